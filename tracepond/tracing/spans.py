"""Spans: ``start_span``, ``LiveSpan``, the current span and trace, ``update_current_trace``.

A :class:`LiveSpan` is a thin handle on an OpenTelemetry SDK span that records the way tracepond
stores things: inputs and outputs as capped, redacted JSON text, span types, statuses as 'OK' /
'ERROR', exceptions as an ``exception`` event (type, message, stacktrace). It holds no state of
its own, so ``get_current_span()`` can hand out a new one for whatever span is current.

A span that is started and never ended is never exported (OpenTelemetry exports spans when they
end); the DuckDB store shows its trace as in progress if it was the root. Nothing else breaks.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import orjson
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from tracepond.config import get_settings
from tracepond.conventions import attributes as attr
from tracepond.conventions.span_types import SpanType
from tracepond.errors import log_internal_error
from tracepond.tracing.context import _active_model_id, _active_run
from tracepond.tracing.provider import get_tracer
from tracepond.tracing.serialize import DROP, REDACTED, encode, is_secret_key, redact_text, to_json

logger = logging.getLogger("tracepond")

_STATUS_CODES = {"OK": StatusCode.OK, "ERROR": StatusCode.ERROR, "UNSET": StatusCode.UNSET}
_PRIMITIVES = (str, bool, int, float)

# The first live tracepond span of each trace in this process, by trace id: the "local root"
# that update_current_trace also writes to. Bounded, in case spans are never ended.
_local_roots: dict[int, Span] = {}
_MAX_LOCAL_ROOTS = 10_000


class LiveSpan:
    """A span being recorded. Methods never raise because of tracepond; on a span that is not
    recording (sampled out) they do nothing."""

    __slots__ = ("otel_span",)

    def __init__(self, otel_span: Span) -> None:
        self.otel_span = otel_span

    def __repr__(self) -> str:
        return f"LiveSpan(name={self.name!r}, trace_id={self.trace_id!r}, span_id={self.span_id!r})"

    @property
    def name(self) -> str:
        return str(getattr(self.otel_span, "name", ""))

    @property
    def span_id(self) -> str:
        return format(self.otel_span.get_span_context().span_id, "016x")

    @property
    def trace_id(self) -> str:
        return format(self.otel_span.get_span_context().trace_id, "032x")

    @property
    def is_recording(self) -> bool:
        return self.otel_span.is_recording()

    def set_inputs(self, inputs: Any) -> None:
        """Record the span's inputs (serialized, redacted, capped; skipped when content capture
        is off)."""
        self._set_content(attr.INPUTS, "inputs", inputs)

    def set_outputs(self, outputs: Any) -> None:
        """Record the span's outputs, like :meth:`set_inputs`."""
        self._set_content(attr.OUTPUTS, "outputs", outputs)

    def _set_content(self, key: str, kind: str, value: Any) -> None:
        span = self.otel_span
        if not span.is_recording():
            return
        try:
            settings = get_settings()
            if not settings.capture_content:
                return
            if settings.redact is not None:
                value = _apply_redact_hook(settings.redact, self.name, kind, value)
                if value is DROP:
                    span.set_attribute(attr.CONTENT_DROPPED, True)
                    return
            text, truncated = encode(value, settings.max_value_bytes)
            span.set_attribute(key, text)
            if truncated:
                span.set_attribute(attr.TRUNCATED, True)
        except Exception:
            log_internal_error(f"LiveSpan.set_{kind}")

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute. Values OpenTelemetry cannot hold (dicts, objects) are stored as
        JSON text; None is skipped; keys named like credentials get ``[REDACTED]``."""
        if not isinstance(key, str):
            raise TypeError(f"attribute keys must be str; got {key!r} ({type(key).__name__})")
        if not self.otel_span.is_recording():
            return
        try:
            converted = _attribute_value(key, value)
            if converted is not None:
                self.otel_span.set_attribute(key, converted)
        except Exception:
            log_internal_error("LiveSpan.set_attribute")

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        check_attribute_keys(attributes)  # all or nothing
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_status(self, status: str | StatusCode, message: str | None = None) -> None:
        """'OK' or 'ERROR' (or an OTel StatusCode), with an optional message for errors."""
        code = _STATUS_CODES.get(status.upper()) if isinstance(status, str) else status
        if not isinstance(code, StatusCode):
            raise ValueError(f"status must be 'OK' or 'ERROR', got {status!r}")
        self.otel_span.set_status(Status(code, message if code is StatusCode.ERROR else None))

    def record_exception(self, exception: BaseException) -> None:
        """Record ``exception``: status ERROR ('Type: message'), ``error.type``, and an
        ``exception`` event with its type, message and stacktrace."""
        try:
            record_error(self.otel_span, exception)
        except Exception:
            log_internal_error("LiveSpan.record_exception")

    def end(self) -> None:
        """End the span (idempotent). Status becomes 'OK' unless one was set."""
        try:
            end_span(self.otel_span)
        except Exception:
            log_internal_error("LiveSpan.end")


def _apply_redact_hook(hook: Any, span_name: str, kind: str, value: Any) -> Any:
    try:
        return hook(span_name, kind, value)
    except Exception:
        # The user's hook failed: the content it was meant to clean must not be stored as is.
        logger.warning(
            "tracepond: the redact hook raised on span %r; content dropped.",
            span_name,
            exc_info=True,
        )
        return DROP


def check_attribute_keys(attributes: Mapping[str, Any]) -> None:
    for key in attributes:
        if not isinstance(key, str):
            raise TypeError(f"attribute keys must be str; got {key!r} ({type(key).__name__})")


def _attribute_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if is_secret_key(key):
        return REDACTED
    if isinstance(value, _PRIMITIVES):
        return value
    if (
        isinstance(value, (list, tuple))
        and value
        and all(type(item) is type(value[0]) and isinstance(item, _PRIMITIVES) for item in value)
    ):
        return list(value)
    return to_json(value)


def record_error(span: Span, exception: BaseException) -> None:
    """Status ERROR ('Type: message'), ``error.type`` and the ``exception`` event, with
    credential-shaped text scrubbed from the message and the stack: providers echo keys in their
    errors ("Incorrect API key provided: sk-..."), and so do apps' own exceptions."""
    if not span.is_recording():
        return
    cls = type(exception)
    error_type = cls.__qualname__
    module = cls.__module__
    message = redact_text(str(exception))
    span.set_attribute(attr.ERROR_TYPE, error_type)
    span.add_event(
        "exception",
        {
            "exception.type": f"{module}.{error_type}" if module != "builtins" else error_type,
            "exception.message": message,
            "exception.stacktrace": redact_text("".join(traceback.format_exception(exception))),
            "exception.escaped": "False",
        },
    )
    status = f"{error_type}: {message}" if message else error_type
    span.set_status(Status(StatusCode.ERROR, status[:1024]))


_OK = Status(StatusCode.OK)


def end_span(span: Span) -> None:
    """End an SDK span the tracepond way: status OK unless one was set; idempotent."""
    if not span.is_recording():  # sampled out, or ended already: the SDK stops recording at end
        return
    if span.status.status_code is StatusCode.UNSET:  # type: ignore[attr-defined]
        span.set_status(_OK)
    trace_id = span.get_span_context().trace_id
    if _local_roots.get(trace_id) is span:
        _local_roots.pop(trace_id, None)  # pop: another thread may be pruning
    span.end()


def fail_span(span: Span, exception: BaseException) -> None:
    """Record ``exception`` on the span and end it. A GeneratorExit (a generator closed early by
    its consumer) is not an error."""
    if not isinstance(exception, GeneratorExit):
        record_error(span, exception)
    end_span(span)


# --- starting spans ------------------------------------------------------------------------


def start_attributes(
    span_type: str, attributes: Mapping[str, Any] | None, with_context: bool = True
) -> dict[str, Any]:
    """Attributes a tracepond span starts with: its type, the given ones (converted, secrets
    redacted) and, ``with_context``, the active run and model."""
    start: dict[str, Any] = {attr.SPAN_TYPE: span_type}
    if with_context:
        run = _active_run.get()
        if run is not None:
            start[attr.RUN_ID] = run.run_id
            if run.experiment_id is not None:
                start[attr.EXPERIMENT_ID] = run.experiment_id
        model_id = _active_model_id.get()
        if model_id is not None:
            start[attr.MODEL_ID] = model_id
    if attributes:
        for key, value in attributes.items():
            converted = _attribute_value(key, value)
            if converted is not None:
                start[key] = converted
    return start


def track_local_root(span: Span) -> None:
    """Remember ``span`` as its trace's local root if no live tracepond span of that trace is
    known in this process (update_current_trace writes there too)."""
    trace_id = span.get_span_context().trace_id
    if trace_id not in _local_roots:
        if len(_local_roots) >= _MAX_LOCAL_ROOTS:  # spans never ended: forget the oldest half
            for stale in list(_local_roots)[: _MAX_LOCAL_ROOTS // 2]:
                _local_roots.pop(stale, None)
        _local_roots[trace_id] = span


# Spans that ended in another contextvars context than the one they were made current in (a
# framework's async callbacks): by span id, the context current before them, which
# ``live_parent`` uses instead. Bounded: it only has to outlive the caller's next few steps.
_ended_elsewhere: dict[int, otel_context.Context] = {}
_MAX_ENDED_ELSEWHERE = 2048


def ended_elsewhere(span: Span, previous: otel_context.Context) -> None:
    """Say that ``span`` ended away from the context it is current in, where ``previous`` was
    current before it: spans started there from now on go under ``previous``'s span."""
    if len(_ended_elsewhere) >= _MAX_ENDED_ELSEWHERE:
        for stale in list(_ended_elsewhere)[: _MAX_ENDED_ELSEWHERE // 2]:
            _ended_elsewhere.pop(stale, None)
    _ended_elsewhere[span.get_span_context().span_id] = previous


def live_parent() -> otel_context.Context | None:
    """The context a new span starts in: None (the current one), unless the current span is one
    that ended elsewhere (see :func:`ended_elsewhere`); then the context before it. A framework
    that reports a step's end from another asyncio task (LangChain's async callbacks do) cannot
    restore the context the step started in, which keeps the ended step current there; what
    starts there next belongs to the step's parent, not under a step that is over. (Other ended
    spans stay parents: work an app submits inside a span may run after it ends.)"""
    span = otel_trace.get_current_span()
    if not _ended_elsewhere or getattr(span, "end_time", None) is None:
        return None
    context: otel_context.Context | None = None
    for _ in range(64):  # each step out is one ended framework step; never nested this deep
        previous = _ended_elsewhere.get(span.get_span_context().span_id)
        if previous is None:
            break
        context = previous
        span = otel_trace.get_current_span(context)
    return context


def begin(
    name: str,
    span_type: str,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> Span:
    """Start an SDK span under the current context (not made current), with tracepond's start
    attributes, tracked as a local root when it is one. Autolog wrappers use it."""
    span = get_tracer().start_span(
        name, context=live_parent(), kind=kind, attributes=start_attributes(span_type, attributes)
    )
    if span.is_recording():
        track_local_root(span)
    return span


class _SpanScope:
    """The context manager ``start_span`` returns: current span inside, ended on exit, errors
    recorded and re-raised unchanged."""

    __slots__ = ("_live", "_token")

    def __init__(self, span: Span) -> None:
        self._live = LiveSpan(span)
        self._token: object = None

    def __enter__(self) -> LiveSpan:
        self._token = otel_context.attach(otel_trace.set_span_in_context(self._live.otel_span))
        return self._live

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span = self._live.otel_span
        try:
            if exc is None:
                end_span(span)
            else:
                fail_span(span, exc)
        except Exception:
            log_internal_error("start_span exit")
        finally:
            otel_context.detach(self._token)  # type: ignore[arg-type]


def start_span(
    name: str,
    span_type: str = SpanType.UNKNOWN,
    inputs: Any = None,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> _SpanScope:
    """Start a span as a context manager; it is the current span inside the ``with`` block::

        with tracepond.start_span("retrieve", span_type="RETRIEVER", inputs={"q": q}) as span:
            span.set_outputs(docs)

    An exception leaving the block is recorded (status ERROR, an ``exception`` event) and
    re-raised unchanged; otherwise the status is 'OK'.
    """
    if attributes is not None:
        check_attribute_keys(attributes)
    try:
        span = begin(name, span_type, attributes, kind)
    except Exception:
        log_internal_error("start_span")
        span = otel_trace.INVALID_SPAN  # the block still runs, untraced
    scope = _SpanScope(span)
    if inputs is not None:
        scope._live.set_inputs(inputs)
    return scope


# --- the current span and trace ----------------------------------------------------------


def get_current_span() -> LiveSpan | None:
    """The span current in this context (tracepond's or the app's own OTel span), or None."""
    span = otel_trace.get_current_span(live_parent())
    return LiveSpan(span) if span.get_span_context().is_valid else None


def get_current_trace_id() -> str | None:
    """The current trace's id as 32 lowercase hex characters; None outside a trace, or when the
    trace was sampled out (nothing of it will be stored)."""
    span = otel_trace.get_current_span(live_parent())
    context = span.get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return format(context.trace_id, "032x")


def update_current_trace(
    tags: Mapping[str, Any] | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Set trace-level fields: tags (merged, later wins), session and user ids, metadata.

    Written on the current span and on the trace's local root span while it is open; the store
    folds them into the ``traces`` row. Raises TypeError (changing nothing) for a non-string tag
    or metadata key or a non-string id. Outside a trace it logs a warning and does nothing.
    """
    _check_trace_fields(tags, session_id, user_id, metadata)
    current = otel_trace.get_current_span(live_parent())
    if not current.is_recording():
        if not current.get_span_context().is_valid:
            logger.warning("tracepond.update_current_trace() called outside a trace; ignored.")
        return
    targets = [current]
    root = _local_roots.get(current.get_span_context().trace_id)
    if root is not None and root is not current and root.is_recording():
        targets.append(root)
    try:
        for span in targets:
            _write_trace_fields(span, tags, session_id, user_id, metadata)
    except Exception:
        log_internal_error("update_current_trace")


def _check_trace_fields(
    tags: Mapping[str, Any] | None,
    session_id: object,
    user_id: object,
    metadata: Mapping[str, Any] | None,
) -> None:
    for label, mapping in (("tags", tags), ("metadata", metadata)):
        if mapping is None:
            continue
        if not isinstance(mapping, Mapping):
            raise TypeError(f"{label} must be a dict, got {type(mapping).__name__}")
        for key in mapping:
            if not isinstance(key, str):
                raise TypeError(
                    f"{label} keys must be str; got {key!r} ({type(key).__name__}); "
                    "nothing was updated"
                )
    for label, value in (("session_id", session_id), ("user_id", user_id)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{label} must be a str, got {type(value).__name__}")


def _merged(span: Span, key: str, update: Mapping[str, Any]) -> dict[str, Any]:
    existing = getattr(span, "attributes", None) or {}
    merged: dict[str, Any] = {}
    if key in existing:
        try:
            loaded = orjson.loads(existing[key])
            if isinstance(loaded, dict):
                merged = loaded
        except orjson.JSONDecodeError:
            pass
    merged.update(update)
    return merged


def _write_trace_fields(
    span: Span,
    tags: Mapping[str, Any] | None,
    session_id: str | None,
    user_id: str | None,
    metadata: Mapping[str, Any] | None,
) -> None:
    if tags:
        as_text = {
            key: value if isinstance(value, str) else to_json(value) for key, value in tags.items()
        }
        span.set_attribute(attr.TAGS, to_json(_merged(span, attr.TAGS, as_text)))
    if metadata:
        span.set_attribute(attr.METADATA, to_json(_merged(span, attr.METADATA, metadata)))
    if session_id is not None:
        span.set_attribute(attr.SESSION_ID, session_id)
    if user_id is not None:
        span.set_attribute(attr.USER_ID, user_id)
