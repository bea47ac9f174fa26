"""The strategies behind the google-genai autologger: what each kind of call records.

- :class:`GenerateContent`: one ``generateContent`` request (``Models._generate_content``):
  operation ``generate_content``, span type CHAT_MODEL;
- :class:`StreamGenerateContent`: one ``streamGenerateContent`` request, the same span fed by
  :class:`GeminiStreamAccumulator` as the chunks pass;
- :class:`EmbedContent`: ``models.embed_content``: operation ``embeddings``, EMBEDDING; the
  vectors are not stored, only how many and their size.

A request records the server, the requested model and the generation parameters the
conventions name, ``gen_ai.request.stream``, and (content capture on) the contents as input
messages, ``config.system_instruction`` as ``gen_ai.system_instructions``, ``config.tools`` as
``gen_ai.tool.definitions``, and the request as ``tracepond.inputs`` (without
``http_options``, where headers and keys live). An answer records the response id, the model
version, finish reasons, usage (cached and thinking tokens included, see
:func:`~tracepond.autolog.gemini.messages.usage_counts`), the output messages and a compact
``tracepond.outputs``, the same whether the answer came whole or streamed.

Safety: a candidate that stops for safety (finish reason ``SAFETY``, ``PROHIBITED_CONTENT``,
...) is an answer, cut short: status OK, ``gen_ai.response.finish_reasons`` ``["safety"]`` and
the output message's ``finish_reason`` ``content_filter``, as the conventions record a content
filter (and as OpenAI's ``content_filter`` is recorded). A prompt blocked outright
(``prompt_feedback.block_reason``, no candidate at all) is a request refused: status ERROR,
``error.type`` ``prompt_blocked`` and the reason in the status description, because the
operation "returned an error in another way" (the conventions' recording-errors rule); the
caller still gets the SDK's response unchanged, no exception.

This module imports google-genai: only ``patch()`` loads it.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from google.genai import errors

from tracepond.autolog.chat_completions.messages import items_of
from tracepond.autolog.gemini import messages as msg
from tracepond.autolog.gemini.messages import field
from tracepond.autolog.provider import CallRecord, Operation
from tracepond.autolog.stream import StreamAccumulator
from tracepond.conventions import attributes as attr
from tracepond.conventions.span_types import SpanType

# GenerateContentConfig field -> attribute, for the parameters the conventions name.
_PARAMETERS = {
    "temperature": attr.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": attr.GEN_AI_REQUEST_TOP_P,
    "top_k": attr.GEN_AI_REQUEST_TOP_K,
    "max_output_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "presence_penalty": attr.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "frequency_penalty": attr.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "seed": attr.GEN_AI_REQUEST_SEED,
}
_PRIMITIVE = (int, float, str, bool)
_OUTPUT_TYPES = {"application/json": "json", "text/plain": "text", "text/x.enum": "text"}
_servers: dict[str, tuple[str | None, int | None]] = {}  # base_url -> (host, port)


def server_of(api_client: Any) -> tuple[str | None, int | None]:
    """(host, port) of the client's base URL, parsed once per URL."""
    options = getattr(api_client, "_http_options", None)
    base_url = getattr(options, "base_url", None)
    if not isinstance(base_url, str):
        return None, None
    found = _servers.get(base_url)
    if found is None:
        parsed = urllib.parse.urlsplit(base_url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        found = (parsed.hostname, port if parsed.hostname else None)
        if len(_servers) > 256:
            _servers.clear()
        _servers[base_url] = found
    return found


class GeminiOperation(Operation):
    """What every google-genai call records: provider, server, model, status code."""

    provider_name = "gcp.gemini"
    where = "autolog.gemini"

    def request(self, record: CallRecord) -> None:
        api_client = getattr(record.instance, "_api_client", None)
        if getattr(api_client, "vertexai", False):
            record.provider = "gcp.vertex_ai"
        host, port = server_of(api_client)
        if host is not None:
            record.attributes[attr.SERVER_ADDRESS] = host
            if port is not None:
                record.attributes[attr.SERVER_PORT] = port
        model = record.kwargs.get("model")
        if isinstance(model, str):
            record.request_model = model
        self.request_details(record, record.kwargs, record.kwargs.get("config"))

    def request_details(self, record: CallRecord, kwargs: dict[str, Any], config: Any) -> None:
        """Operation-specific request attributes and content."""

    def error(self, record: CallRecord, exc: BaseException) -> None:
        if isinstance(exc, errors.APIError) and isinstance(exc.code, int):
            record.set(attr.HTTP_RESPONSE_STATUS_CODE, exc.code)


def _inputs(kwargs: dict[str, Any], config: Any) -> dict[str, Any]:
    """The request as made, minus ``http_options`` (transport: headers, keys, timeouts)."""
    inputs = {key: value for key, value in kwargs.items() if key != "config"}
    if config is not None:
        if isinstance(config, dict):
            inputs["config"] = {k: v for k, v in config.items() if k != "http_options"}
        else:
            dump = getattr(config, "model_dump", None)
            inputs["config"] = dump(exclude_none=True, exclude={"http_options"}) if dump else config
    return inputs


# --- generate content -------------------------------------------------------------------------


class GenerateContent(GeminiOperation):
    operation_name = "generate_content"
    span_type = SpanType.CHAT_MODEL
    where = "autolog.gemini.generate_content"
    streams = False

    def request_details(self, record: CallRecord, kwargs: dict[str, Any], config: Any) -> None:
        attributes = record.attributes
        record.stream = self.streams
        attributes[attr.GEN_AI_REQUEST_STREAM] = self.streams
        if config is not None:
            for key, name in _PARAMETERS.items():
                value = field(config, key)
                if isinstance(value, _PRIMITIVE):
                    attributes[name] = value
            stops = field(config, "stop_sequences")
            if stops:
                attributes[attr.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(s) for s in stops]
            count = field(config, "candidate_count")
            if isinstance(count, int) and count != 1:
                attributes[attr.GEN_AI_REQUEST_CHOICE_COUNT] = count
            output_type = _OUTPUT_TYPES.get(field(config, "response_mime_type") or "")
            if output_type:
                attributes[attr.GEN_AI_OUTPUT_TYPE] = output_type
        if record.capture:
            record.set_content(
                attr.GEN_AI_INPUT_MESSAGES, msg.input_messages(kwargs.get("contents"))
            )
            if config is not None:
                instructions = msg.system_instructions(field(config, "system_instruction"))
                if instructions:
                    record.set_content(attr.GEN_AI_SYSTEM_INSTRUCTIONS, instructions)
                tools = msg.tool_definitions(field(config, "tools"))
                if tools:
                    record.set_content(attr.GEN_AI_TOOL_DEFINITIONS, tools)
            record.set_inputs(_inputs(kwargs, config))

    def response(self, record: CallRecord, result: Any) -> None:
        answer = GeminiStreamAccumulator()
        answer.on_item(result)
        answer.finish(record)

    def stream_accumulator(self, record: CallRecord) -> StreamAccumulator:
        return GeminiStreamAccumulator()


class StreamGenerateContent(GenerateContent):
    where = "autolog.gemini.stream_generate_content"
    streams = True


class _Candidate:
    __slots__ = ("finish", "parts")

    def __init__(self) -> None:
        self.parts: list[msg.Part] = []
        self.finish: str | None = None

    def add(self, item: Any) -> None:
        parts = self.parts
        text = getattr(item, "text", None)
        if isinstance(text, str) and parts:
            # A streamed text arrives in pieces: one part per run of text (or of thought). The
            # last part is our own dict, so it grows in place.
            last = parts[-1]
            kind = "reasoning" if getattr(item, "thought", None) else "text"
            if last["type"] == kind:
                last["content"] += text
                return
        parts.append(msg.part(item))


class GeminiStreamAccumulator:
    """Adds up ``GenerateContentResponse`` chunks (a whole answer is one chunk): the parts of
    each candidate, its last finish reason, the last usage, id, model version, a blocked
    prompt. ``finish`` writes them onto the record once."""

    __slots__ = ("block", "candidates", "model", "response_id", "usage")

    def __init__(self) -> None:
        self.candidates: dict[int, _Candidate] = {}
        self.usage: Any = None
        self.response_id: str | None = None
        self.model: str | None = None
        self.block: tuple[str, str | None] | None = None

    def on_item(self, chunk: Any) -> bool:
        # Runs once per streamed chunk in the caller's thread: plain attribute reads of the
        # SDK's response objects (what google-genai yields; anything else records nothing).
        response_id = getattr(chunk, "response_id", None)
        if response_id:
            self.response_id = response_id
        model = getattr(chunk, "model_version", None)
        if model:
            self.model = model
        usage = getattr(chunk, "usage_metadata", None)
        if usage is not None:
            self.usage = usage  # each chunk's is the total so far
        feedback = getattr(chunk, "prompt_feedback", None)
        if feedback is not None:
            reason = msg.name_of(getattr(feedback, "block_reason", None))
            if reason:
                self.block = (reason, getattr(feedback, "block_reason_message", None))
        for candidate in getattr(chunk, "candidates", None) or ():
            index = getattr(candidate, "index", None) or 0
            found = self.candidates.get(index)
            if found is None:
                found = self.candidates[index] = _Candidate()
            content = getattr(candidate, "content", None)
            if content is not None:
                for item in getattr(content, "parts", None) or ():
                    found.add(item)
            finish = getattr(candidate, "finish_reason", None)
            if finish is not None:
                found.finish = msg.finish_reason(finish)
        return False

    def finish(self, record: CallRecord) -> None:
        if not self.candidates and self.usage is None and self.block is None:
            return  # nothing came back (the request failed before its first chunk)
        candidates = [self.candidates[i] for i in sorted(self.candidates)]
        reasons = [c.finish for c in candidates if c.finish]
        record.set_response(self.response_id, self.model, reasons)
        if self.usage is not None:
            input_tokens, output_tokens, cached, thoughts = msg.usage_counts(self.usage)
            record.set_usage(input_tokens, output_tokens, cache_read=cached, reasoning=thoughts)
        if self.block is not None and not candidates:
            reason, detail = self.block
            record.set_error("prompt_blocked", f"{reason}: {detail}" if detail else reason)
        if not record.capture:
            return
        outputs = [
            {
                "role": "assistant",
                "parts": c.parts,
                "finish_reason": msg.message_finish_reason(c.finish, c.parts),
            }
            for c in candidates
        ]
        if outputs:  # a blocked prompt has no candidate: no output message
            record.set_content(attr.GEN_AI_OUTPUT_MESSAGES, outputs, "outputs")
        record.set_outputs(self.outputs(candidates))

    def outputs(self, candidates: list[_Candidate]) -> dict[str, Any]:
        """``tracepond.outputs``: what the answer said, the same streamed or not."""
        texts = (
            [p["content"] for p in candidates[0].parts if p["type"] == "text"] if candidates else []
        )
        summary: dict[str, Any] = {
            "text": "".join(texts) if texts else None,
            "candidates": [{"parts": c.parts, "finish_reason": c.finish} for c in candidates],
            "response_id": self.response_id,
            "model_version": self.model,
        }
        if self.usage is not None:
            dump = getattr(self.usage, "model_dump", None)
            summary["usage_metadata"] = dump(exclude_none=True, mode="json") if dump else self.usage
        if self.block is not None:
            summary["prompt_feedback"] = {"block_reason": self.block[0], "message": self.block[1]}
        return summary


# --- embeddings ---------------------------------------------------------------------------------


class EmbedContent(GeminiOperation):
    operation_name = "embeddings"
    span_type = SpanType.EMBEDDING
    where = "autolog.gemini.embed_content"

    def request_details(self, record: CallRecord, kwargs: dict[str, Any], config: Any) -> None:
        dimensions = field(config, "output_dimensionality") if config is not None else None
        if isinstance(dimensions, int):
            record.attributes[attr.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
        if record.capture:
            record.set_inputs(_inputs(kwargs, config))

    def response(self, record: CallRecord, result: Any) -> None:
        embeddings = items_of(field(result, "embeddings"))
        sizes = [len(items_of(field(e, "values"))) or None for e in embeddings]
        if sizes and sizes[0]:
            record.set(attr.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, sizes[0])
        usage = field(result, "usage_metadata")
        input_tokens = field(usage, "prompt_token_count") if usage is not None else None
        if input_tokens is None:  # Vertex AI's older embedding answers count per embedding
            counts = [field(field(e, "statistics"), "token_count") for e in embeddings]
            if counts and all(isinstance(c, (int, float)) for c in counts):
                input_tokens = int(sum(counts))
        if input_tokens is not None:
            record.set_usage(input_tokens, None)
        if record.capture:  # the vectors are the caller's data, not telemetry: count and size
            record.set_outputs({"embeddings": len(embeddings), "dimensions": sizes})
