"""From OpenTelemetry spans to store rows.

:func:`span_record` turns one finished ``ReadableSpan`` into the ``spans`` row, its
``span_events`` rows and the trace-level facts (tags, metadata, session, ...) that the writer folds
into the ``traces`` row. :func:`trace_start` is the small record of a root span that has started,
which makes a trace visible as in progress before it ends.

Rows are plain tuples in the order of :data:`SPAN_COLUMNS` / :data:`EVENT_COLUMNS`; times are
integer microseconds since the epoch (UTC) until the writer hands them to DuckDB as TIMESTAMPs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from tracepond.conventions import attributes as attr
from tracepond.conventions.mapping import (
    column_value,
    event_messages,
    indexed_messages,
    span_type,
)
from tracepond.conventions.secrets import redact_text, redacted_attributes

# (column, DuckDB type); the writer inserts BY NAME, so the order here is free.
SPAN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("parent_span_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("span_type", "VARCHAR"),
    ("start_time", "TIMESTAMP"),
    ("end_time", "TIMESTAMP"),
    ("duration_ms", "DOUBLE"),
    ("status", "VARCHAR"),
    ("status_message", "VARCHAR"),
    ("provider", "VARCHAR"),
    ("model", "VARCHAR"),
    ("input_tokens", "BIGINT"),
    ("output_tokens", "BIGINT"),
    ("inputs", "JSON"),
    ("outputs", "JSON"),
    ("attributes", "JSON"),
    ("run_id", "VARCHAR"),
    ("experiment_id", "VARCHAR"),
    ("model_id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("service_name", "VARCHAR"),
    ("cost_usd", "DOUBLE"),
    ("response_model", "VARCHAR"),  # what the provider answered; `model` is what was asked for
)
# A record's row: the spans columns, then whether the span is its trace's root (not stored).
ROW_COLUMNS: tuple[tuple[str, str], ...] = (*SPAN_COLUMNS, ("tp_is_root", "BOOLEAN"))
S = {name: index for index, (name, _) in enumerate(ROW_COLUMNS)}  # column -> tuple index

EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("time", "TIMESTAMP"),
    ("attributes", "JSON"),
)

# Attributes that become columns of their own and are not repeated in `attributes`.
_COLUMN_ATTRIBUTES = frozenset({attr.INPUTS, attr.OUTPUTS})
_STATUS_NAMES = {StatusCode.OK: "OK", StatusCode.ERROR: "ERROR", StatusCode.UNSET: "UNSET"}


@dataclass(slots=True)
class SpanRecord:
    """One finished span, ready for the store."""

    row: tuple[Any, ...]  # ROW_COLUMNS
    events: list[tuple[Any, ...]]
    is_root: bool  # the first span of this trace in this process (its name becomes the trace's)
    tags: dict[str, Any] | None
    metadata: dict[str, Any] | None

    @property
    def key(self) -> tuple[str, str]:
        return self.row[0], self.row[1]


@dataclass(slots=True)
class TraceStart:
    """A root span that has started: the trace is in progress until that span ends."""

    trace_id: str
    span_id: str
    name: str
    start_us: int
    trace_fields: dict[str, str]  # run_id, experiment_id, model_id, session_id, user_id, service
    tags: dict[str, Any] | None
    metadata: dict[str, Any] | None


def hex_trace_id(trace_id: int) -> str:
    return format(trace_id, "032x")


def hex_span_id(span_id: int) -> str:
    return format(span_id, "016x")


def json_text(value: Any) -> str | None:
    """Valid JSON text for a JSON column: JSON text passes through, anything else is encoded."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            orjson.loads(value)
            return value
        except orjson.JSONDecodeError:
            pass  # a plain string: stored as a JSON string
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def json_object(value: Any) -> dict[str, Any] | None:
    """A JSON-object attribute (tags, metadata) as a dict; anything else is ignored."""
    if not isinstance(value, str):
        return None
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _service_name(span: ReadableSpan) -> str | None:
    resource = span.resource
    return _str_or_none(resource.attributes.get("service.name")) if resource is not None else None


def trace_fields(attributes: Mapping[str, Any], service_name: str | None) -> dict[str, str]:
    """The trace-level ids a span carries (only those present)."""
    found = {
        "run_id": attributes.get(attr.RUN_ID),
        "experiment_id": attributes.get(attr.EXPERIMENT_ID),
        "model_id": attributes.get(attr.MODEL_ID),
        "session_id": column_value(attributes, "session_id"),
        "user_id": column_value(attributes, "user_id"),
        "service_name": service_name,
    }
    return {key: str(value) for key, value in found.items() if value is not None}


_dumps = orjson.dumps
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_DUMP_OPTIONS = orjson.OPT_NON_STR_KEYS
_INPUTS, _OUTPUTS = attr.INPUTS, attr.OUTPUTS


def _content(value: Any) -> str | None:
    """tracepond.inputs / outputs as JSON text (they normally already are)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            _loads(value)
            return value
        except _JSONDecodeError:
            pass
    return _dumps(value, default=str, option=_DUMP_OPTIONS).decode()


_KIND_NAMES = {kind: kind.name for kind in SpanKind}
_RUN_IDS = (attr.RUN_ID, attr.EXPERIMENT_ID, attr.MODEL_ID)
# Span types whose content other conventions spread over indexed attributes or events.
_MODEL_SPAN_TYPES = frozenset({"LLM", "CHAT_MODEL", "EMBEDDING", "RERANKER"})
# id(resource) -> (resource, service.name) for the few resources a process has. The resource is
# kept with its name: a bare id can be reused by a new object once the old one is collected.
_SERVICE_NAMES: dict[int, tuple[Any, str | None]] = {}


def _service_of(span: ReadableSpan) -> str | None:
    resource = span.resource
    if resource is None:
        return None
    entry = _SERVICE_NAMES.get(id(resource))
    if entry is not None and entry[0] is resource:
        return entry[1]
    if len(_SERVICE_NAMES) > 64:
        _SERVICE_NAMES.clear()
    name = resource.attributes.get("service.name")
    service = None if name is None else str(name)
    _SERVICE_NAMES[id(resource)] = (resource, service)
    return service


def span_record(span: ReadableSpan, is_root: bool) -> SpanRecord:
    """The store's view of one finished span. Runs once per span on the writer thread, so it
    reads each attribute once from a plain dict copy and calls as little as it can."""
    context = span.context
    if context is None:
        raise ValueError("a span without a context cannot be stored")
    if isinstance(span, ReadableSpan):  # the SDK's fields: its properties copy or wrap them
        raw, parent, start, end = span._attributes, span._parent, span._start_time, span._end_time
        name, kind, status, has_events = span._name, span._kind, span._status, bool(span._events)
    else:  # a ReadableSpan look-alike
        raw, parent, start, end = span.attributes, span.parent, span.start_time, span.end_time
        name, kind, status, has_events = span.name, span.kind, span.status, bool(span.events)
    # Our copy (the content attributes are popped), with every credential scrubbed: the store
    # keeps no secret, whichever instrumentation recorded it.
    attributes = dict(redacted_attributes(raw or {}))
    get = attributes.get
    pop = attributes.pop
    # tracepond's own content attributes become columns and are not repeated in `attributes`;
    # another convention's stay as they were recorded.
    inputs = pop(_INPUTS, None)
    outputs = pop(_OUTPUTS, None)
    trace_id = format(context.trace_id, "032x")
    span_id = format(context.span_id, "016x")
    start_us = (start or 0) // 1000
    end_us = (end or start or 0) // 1000
    # Every convention's name for a column, through the one table (tracepond.conventions.mapping).
    model = column_value(attributes, "model")
    response_model = column_value(attributes, "response_model")
    provider = column_value(attributes, "provider")
    kind_of_span = span_type(attributes)
    if inputs is None:
        inputs = column_value(attributes, "inputs")
    if outputs is None:
        outputs = column_value(attributes, "outputs")
    if (inputs is None or outputs is None) and kind_of_span in _MODEL_SPAN_TYPES:
        found = _spread_content(attributes, span.events if has_events else ())
        inputs = found.get("inputs") if inputs is None else inputs
        outputs = found.get("outputs") if outputs is None else outputs
    ids = [get(key) for key in _RUN_IDS]
    ids.extend((column_value(attributes, "session_id"), column_value(attributes, "user_id")))
    cost = get(attr.COST_USD)
    tags = get(attr.TAGS)
    metadata = get(attr.METADATA)
    row = (
        trace_id,
        span_id,
        None if parent is None else format(parent.span_id, "016x"),
        name,
        _KIND_NAMES.get(kind, "INTERNAL"),
        kind_of_span,
        start_us,
        end_us,
        (end_us - start_us) / 1000.0,
        _STATUS_NAMES.get(status.status_code, "UNSET"),
        None if status.description is None else redact_text(status.description),
        None if provider is None else str(provider),
        None if model is None else str(model),
        _int_or_none(column_value(attributes, "input_tokens")),
        _int_or_none(column_value(attributes, "output_tokens")),
        None if inputs is None else _content(inputs),
        None if outputs is None else _content(outputs),
        _dumps(attributes, default=str, option=_DUMP_OPTIONS).decode(),
        *(None if value is None else str(value) for value in ids),
        _service_of(span),
        None if cost is None else _float_or_none(cost),
        None if response_model is None else str(response_model),
        is_root,
    )
    events = _events(span, trace_id, span_id) if has_events else []
    return SpanRecord(
        row,
        events,
        is_root,
        None if tags is None else json_object(tags),
        None if metadata is None else json_object(metadata),
    )


def _spread_content(attributes: Mapping[str, Any], events: Any) -> dict[str, Any]:
    """Messages another convention spread over indexed attributes or message events."""
    found: dict[str, Any] = dict(event_messages(events)) if events else {}
    found.update(indexed_messages(attributes))  # attributes are the more complete record
    return found


def _events(span: ReadableSpan, trace_id: str, span_id: str) -> list[tuple[Any, ...]]:
    return [
        (
            trace_id,
            span_id,
            event.name,
            event.timestamp // 1000,
            _dumps(dict(redacted_attributes(event.attributes or {})), default=str).decode(),
        )
        for event in span.events
    ]


def trace_start(span: ReadableSpan) -> TraceStart:
    """What a root span tells about its trace when it starts."""
    context = span.context
    if context is None:
        raise ValueError("a span without a context cannot be stored")
    attributes: Mapping[str, Any] = span.attributes or {}
    return TraceStart(
        hex_trace_id(context.trace_id),
        hex_span_id(context.span_id),
        span.name,
        (span.start_time or 0) // 1000,
        trace_fields(attributes, _service_name(span)),
        json_object(attributes.get(attr.TAGS)),
        json_object(attributes.get(attr.METADATA)),
    )
