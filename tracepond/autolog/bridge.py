"""Spans for frameworks that report their own steps: the Agents SDK's tracing processor and
LangChain's callbacks both tell tracepond "step X started (under step Y)" and "step X ended".

A :class:`SpanBridge` turns those events into tracepond spans keyed by the framework's own ids:

- a step's span is a child of its parent step's span when the framework names one that is open,
  else of whatever span is current (the app's own ``start_span`` around the run, say);
- the span is made current while the step runs (``attach``), so what the step calls, an OpenAI
  client that autolog traces or the app's ``@trace`` function, nests under it in the same trace;
- ``end`` restores the context the step started in, when it ends in that same ``contextvars``
  context (a probe variable set beside the span tells). Frameworks end steps in other contexts
  too: LangChain's async callbacks run as shielded ``asyncio`` tasks, the Agents SDK finalizes an
  abandoned stream wherever. There OpenTelemetry's ``detach`` would raise inside and log an
  error per step, and could not reach the context the step started in anyway, which keeps the
  ended span current. So the bridge tells ``tracing.spans.ended_elsewhere`` what was current
  before the step, and every tracepond span started later in that context goes under that
  (``live_parent``): nothing nests under a span that is over, and nothing leaks into the next run.

Model calls: a framework's model step (``record_calls=True``, or ``defer`` for one whose span is
only wanted when no provider span records the call) carries a list in its context under
``provider.PROVIDER_CALLS``; every autolog provider span started inside joins it. At the end the
integration looks at ``step.provider_calls``: a provider span recorded the call (its model,
tokens and cost), or none did and the framework's own account is the record.

Nothing here raises into the framework: callers wrap each event in ``log_internal_error``.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from tracepond.autolog.content import encode_json, plain
from tracepond.autolog.provider import PROVIDER_CALLS, AutologOptions
from tracepond.config import get_settings
from tracepond.conventions import attributes as attr
from tracepond.tracing.provider import get_tracer
from tracepond.tracing.serialize import DROP, redact_text
from tracepond.tracing.spans import (
    LiveSpan,
    end_span,
    ended_elsewhere,
    live_parent,
    record_error,
    start_attributes,
    track_local_root,
)

# Steps that never end (a framework bug, a crashed worker) must not grow the table forever.
_MAX_OPEN = 10_000
# Set with each step's context, reset at its end: the reset fails in any other contextvars
# context, which is how ``end`` knows whether it may restore the context the step started in.
_probe: contextvars.ContextVar[int] = contextvars.ContextVar("tracepond_bridge_probe", default=0)


@dataclass
class OpenStep:
    """A framework step being recorded: its span and the context attached for it."""

    span: Span
    token: object | None
    context: otel_context.Context | None
    previous: otel_context.Context | None = None  # current before the step: its parent's
    probe: contextvars.Token[int] | None = None
    provider_calls: list[Span] | None = None  # provider spans started inside (model steps)
    start_ns: int = 0
    parent: Span | None = None  # a deferred step's parent span
    # What the step's span records only if no provider span recorded the call (model, usage).
    fallback: dict[str, Any] = field(default_factory=dict)


class SpanBridge:
    """Open spans of one framework integration, by the framework's step id."""

    def __init__(self, options: AutologOptions) -> None:
        self.options = options
        self._open: dict[Hashable, OpenStep] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._open)

    def capture(self) -> bool:
        """Whether content (inputs, outputs, messages) is recorded now."""
        return self.options.capture(get_settings())

    def start(
        self,
        key: Hashable,
        name: str,
        span_type: str,
        *,
        parent: Hashable | None = None,
        attributes: Mapping[str, Any] | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        record_calls: bool = False,
    ) -> OpenStep:
        """Start the span of step ``key`` under step ``parent`` (or the current span) and make
        it current; ``record_calls``: a model step that provider spans inside join."""
        span = self._new_span(name, span_type, self._parent_span(parent), attributes, kind)
        calls: list[Span] | None = [] if record_calls else None
        context = otel_trace.set_span_in_context(span)  # on the current context: keeps its keys
        context = otel_context.set_value(PROVIDER_CALLS, calls, context)
        return self._enter(key, OpenStep(span, None, context, provider_calls=calls))

    def defer(self, key: Hashable, *, parent: Hashable | None = None) -> OpenStep:
        """A model step whose span waits for its end (:meth:`materialize`): none is started, the
        parent stays current, and provider spans inside join ``provider_calls``."""
        calls: list[Span] = []
        context = otel_context.set_value(PROVIDER_CALLS, calls)
        step = OpenStep(
            otel_trace.INVALID_SPAN,
            None,
            context,
            provider_calls=calls,
            start_ns=time.time_ns(),
            parent=self._parent_span(parent),
        )
        return self._enter(key, step)

    def materialize(
        self,
        step: OpenStep,
        name: str,
        span_type: str,
        attributes: Mapping[str, Any] | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> None:
        """Give a deferred step its span now, started when the step started."""
        step.span = self._new_span(name, span_type, step.parent, attributes, kind, step.start_ns)

    def _parent_span(self, parent: Hashable | None) -> Span | None:
        parent_step = self._open.get(parent) if parent is not None else None
        return parent_step.span if parent_step is not None else None

    def _new_span(
        self,
        name: str,
        span_type: str,
        parent: Span | None,
        attributes: Mapping[str, Any] | None,
        kind: SpanKind,
        start_ns: int | None = None,
    ) -> Span:
        span = get_tracer().start_span(
            name,
            context=otel_trace.set_span_in_context(parent) if parent is not None else live_parent(),
            kind=kind,
            attributes=start_attributes(span_type, attributes),
            start_time=start_ns,
        )
        if span.is_recording():
            track_local_root(span)
        return span

    def _enter(self, key: Hashable, step: OpenStep) -> OpenStep:
        step.previous = otel_context.get_current()
        step.token = otel_context.attach(step.context)  # type: ignore[arg-type]
        step.probe = _probe.set(0)
        with self._lock:
            if len(self._open) >= _MAX_OPEN:
                for stale in list(self._open)[: _MAX_OPEN // 2]:
                    self._open.pop(stale, None)
            self._open[key] = step
        return step

    def get(self, key: Hashable) -> OpenStep | None:
        return self._open.get(key)

    def end(
        self,
        key: Hashable,
        error: BaseException | None = None,
        *,
        error_type: str | None = None,
        message: str | None = None,
    ) -> OpenStep | None:
        """End step ``key``'s span: OK, or ERROR from ``error`` (the exception event too) or
        from ``error_type`` / ``message`` (a framework that reports errors as data)."""
        with self._lock:
            step = self._open.pop(key, None)
        if step is None:
            return None
        _restore(step)
        span = step.span
        if error is not None:
            record_error(span, error)
        elif error_type is not None and span.is_recording():
            span.set_attribute(attr.ERROR_TYPE, error_type)
            text = redact_text(f"{error_type}: {message}" if message else error_type)
            span.set_status(Status(StatusCode.ERROR, text[:1024]))
        end_span(span)
        return step

    def hold(self, key: Hashable) -> OpenStep | None:
        """The framework is done with step ``key`` but its span stays open for its caller to end
        (with what only the caller knows): the context is restored, the step forgotten."""
        with self._lock:
            step = self._open.pop(key, None)
        if step is not None:
            _restore(step)
        return step

    def end_all(self) -> None:
        """End every open span (the integration is being switched off mid-run: the framework
        will not report their ends to it any more). Contexts are not restored: they belong to
        the framework's tasks, which restore their own when their steps unwind."""
        with self._lock:
            open_steps = list(self._open.values())
            self._open.clear()
        for step in reversed(open_steps):  # children first
            end_span(step.span)

    def set_inputs(self, step: OpenStep, value: Any) -> None:
        self.set_content(step, attr.INPUTS, value, "inputs")

    def set_outputs(self, step: OpenStep, value: Any) -> None:
        self.set_content(step, attr.OUTPUTS, value, "outputs")

    def set_content(self, step: OpenStep, key: str, value: Any, kind: str = "inputs") -> None:
        """A content attribute (inputs, outputs, tool arguments and results) as capped, redacted
        JSON text, after the user's redact hook (told ``kind``); nothing when content capture
        is off. A tool's text result stays text, as the tool returned it."""
        if value is None or not self.capture() or not step.span.is_recording():
            return
        settings = get_settings()
        if settings.redact is not None:
            try:
                value = settings.redact(getattr(step.span, "name", ""), kind, value)
            except Exception:
                value = DROP  # the hook failed: what it was meant to clean is not stored as is
            if value is DROP:
                step.span.set_attribute(attr.CONTENT_DROPPED, True)
                return
        if isinstance(value, str) and key == attr.GEN_AI_TOOL_CALL_RESULT:
            text, truncated = redact_text(value)[: settings.max_value_bytes], False
        else:
            # Framework values are lists of pydantic messages, mostly: as plain data they take
            # the C serializer's fast path (a few microseconds, not the Python walk's hundreds).
            items = [plain(item) for item in value] if isinstance(value, (list, tuple)) else None
            text, truncated = encode_json(
                plain(value) if items is None else items, settings.max_value_bytes
            )
        step.span.set_attribute(key, text)
        if truncated:
            step.span.set_attribute(attr.TRUNCATED, True)

    def set_attributes(self, step: OpenStep, attributes: Mapping[str, Any]) -> None:
        live = LiveSpan(step.span)
        for key, value in attributes.items():
            live.set_attribute(key, value)


def _restore(step: OpenStep) -> None:
    """Make the step's parent current again where the step's context is (see the module)."""
    if step.probe is None or step.token is None:
        return
    try:
        _probe.reset(step.probe)
    except (ValueError, RuntimeError):  # another contextvars context than the step's start
        if step.previous is not None:
            ended_elsewhere(step.span, step.previous)  # where it started, it stays current
            if otel_context.get_current() is step.context:
                otel_context.attach(step.previous)  # this context copied ours: the parent again
        return
    otel_context.detach(step.token)  # type: ignore[arg-type]
