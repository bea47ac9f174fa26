"""The GenAI semantic-convention versions tracepond emits over OTLP, and the renames between them.

tracepond records spans in the v1.41 names (the last full text of the GenAI conventions in the
main semantic-conventions repository; tracepond.conventions.attributes). The conventions now live
in open-telemetry/semantic-conventions-genai, whose v1.42 line renames attributes. The one
setting ``genai_semconv`` (``TRACEPOND_GENAI_SEMCONV``, or the latest here with
``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``) picks the version whose names go
out over OTLP; the exporter renames through :data:`RENAMES`. A new version is one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping

from tracepond.conventions import attributes as attr

# version -> {name as recorded (v1.41): name in that version}
RENAMES: Mapping[str, Mapping[str, str]] = {
    "1.41": {},
    "1.42": {
        attr.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: "gen_ai.usage.cache_write.input_tokens",
    },
}

# The span event that carries content when it does not go on the span's attributes
# (EVENT_ONLY, SPAN_AND_EVENT), and what it takes from the span besides the content.
INFERENCE_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
INFERENCE_DETAILS_CONTEXT = (
    attr.GEN_AI_OPERATION_NAME,
    attr.GEN_AI_PROVIDER_NAME,
    attr.GEN_AI_REQUEST_MODEL,
    attr.GEN_AI_RESPONSE_MODEL,
    attr.GEN_AI_RESPONSE_ID,
)
