"""OTLP spans -> the store's rows, through the same conversion as spans tracepond records.

Each decoded OTLP span is rebuilt as an OpenTelemetry SDK ``ReadableSpan`` and handed to the
store's own ``span_record`` (tracepond.store.rows), so a span that arrived over OTLP gets exactly
the columns (span type, provider, model, tokens, inputs, outputs, run, session, cost) and the
trace-row folding of one that tracepond's exporter wrote.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from tracepond.otlp.decode import OtlpSpan

_KINDS = {
    "INTERNAL": SpanKind.INTERNAL,
    "SERVER": SpanKind.SERVER,
    "CLIENT": SpanKind.CLIENT,
    "PRODUCER": SpanKind.PRODUCER,
    "CONSUMER": SpanKind.CONSUMER,
}
_STATUS = {"OK": StatusCode.OK, "ERROR": StatusCode.ERROR, "UNSET": StatusCode.UNSET}
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def _context(trace_id: str, span_id: str) -> SpanContext:
    return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=_SAMPLED)


def readable_span(span: OtlpSpan, resource: Resource | None = None) -> ReadableSpan:
    """The SDK's read-only span for an OTLP span (attributes kept as decoded)."""
    status_code = _STATUS.get(span.status_code, StatusCode.UNSET)
    # The SDK allows a description only on ERROR; OTLP may carry one on any status.
    description = span.status_message or None if status_code is StatusCode.ERROR else None
    attributes: dict[str, Any] = span.attributes
    return ReadableSpan(
        name=span.name,
        context=_context(span.trace_id, span.span_id),
        parent=_context(span.trace_id, span.parent_span_id) if span.parent_span_id else None,
        resource=resource if resource is not None else Resource(span.resource),
        attributes=attributes,  # type: ignore[arg-type]  # kvlist values stay dicts, stored as JSON
        events=[
            Event(e.name, e.attributes, e.time_unix_nano or span.start_time_unix_nano)  # type: ignore[arg-type]
            for e in span.events
        ],
        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
        status=Status(status_code, description),
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano,
        instrumentation_scope=InstrumentationScope(span.scope_name or "otlp"),
    )


def readable_spans(spans: list[OtlpSpan]) -> list[ReadableSpan]:
    """One request's decoded spans as SDK spans; spans of one resource share one Resource."""
    resources: dict[int, Resource] = {}
    readable = []
    for span in spans:
        resource = resources.get(id(span.resource))
        if resource is None:
            resource = resources[id(span.resource)] = Resource(span.resource)
        readable.append(readable_span(span, resource))
    return readable


__all__ = ["OtlpSpan", "readable_span", "readable_spans"]
