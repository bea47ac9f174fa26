"""The one generic provider wrapper: sync, async and streams, driven by a small strategy.

A provider module (``openai.py``, ``groq.py``, ``bedrock.py``) describes each patched method with
an :class:`Operation` subclass (which span, what a request records, what a response records, how
a stream accumulates) and installs it with::

    patcher.wrap(module, "Completions.create", make_wrapper(ChatOperation(is_async=False), options))

:func:`make_wrapper` returns one of two thin shells (sync, async) around the same plan:

1. suppressed (``tracepond.tracing.suppress.is_suppressed()``)? call straight through;
2. build the :class:`CallRecord` and let the operation fill in the request, inside ``try``: on an
   internal failure, log it (``log_internal_error``) and call through untraced;
3. start the span (kind CLIENT, named ``"{operation} {model}"``) and make it current;
4. call ``wrapped`` outside any guard; its exception is recorded (status ERROR, ``error.type``,
   the exception event) and the SAME exception re-raised;
5. hand the result to ``operation.handle_result`` inside its own ``try``: a stream comes back
   behind :func:`tracepond.autolog.stream.wrap_stream`; anything else is recorded and the span ended.

:class:`CallRecord` is what an operation writes to: request attributes before the span starts,
then response attributes, usage, content (only when content capture is on), and ``end()``, which
adds cost (``tracepond.autolog.pricing``), metrics (``tracepond.autolog.metrics``) and status, once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from tracepond.autolog import metrics, pricing
from tracepond.autolog.content import encode_json, plain
from tracepond.autolog.patching import Wrapper
from tracepond.autolog.stream import StreamAccumulator, wrap_stream
from tracepond.config import Settings, get_settings
from tracepond.conventions import attributes as attr
from tracepond.errors import log_internal_error
from tracepond.tracing import serialize
from tracepond.tracing.provider import get_tracer
from tracepond.tracing.spans import (
    end_span,
    live_parent,
    record_error,
    start_attributes,
    track_local_root,
)
from tracepond.tracing.suppress import is_suppressed

logger = logging.getLogger("tracepond.autolog")


# A framework integration (``bridge.SpanBridge``) that sees a model call from above, a LangChain
# chat model or an Agents SDK model span, puts a list under this key in the context while the
# call runs. A provider span started inside joins it, and the framework then leaves the model,
# usage and cost to that span, so a trace's totals count each call once.
PROVIDER_CALLS = otel_context.create_key("tracepond-provider-calls")


@dataclass
class AutologOptions:
    """What ``autolog()`` was asked for. One live object: a later ``autolog(...)`` call updates
    it in place, and wrappers read it on every call."""

    # None: follow tracepond.configure / TRACEPOND_CAPTURE_CONTENT
    capture_content: bool | None = None
    stream_usage: bool = False
    metrics: bool | None = None  # None: follow tracepond.configure / TRACEPOND_METRICS

    def capture(self, settings: Settings) -> bool:
        if self.capture_content is not None:
            return self.capture_content
        return bool(settings.capture_content)


class Operation:
    """Strategy for one kind of provider call. Subclass it; one instance per patched method.

    Override ``request`` (what the call asks, before the span starts), ``response`` (what a
    non-streamed result says) and ``stream_accumulator`` (how a stream's items add up).
    ``handle_result`` routes a result to one or the other; override it for result types such as
    openai's raw responses.
    """

    provider_name = "unknown"  # gen_ai.provider.name unless request() sets record.provider
    operation_name = "chat"  # gen_ai.operation.name
    span_type = "CHAT_MODEL"  # tracepond.span_type
    where = "autolog"  # names this operation in internal-error logs

    def __init__(self, *, is_async: bool) -> None:
        self.is_async = is_async

    def request(self, record: CallRecord) -> None:
        """Fill ``record`` from ``record.kwargs``: model, attributes, inputs, ``stream``.

        May replace ``record.args`` / ``record.kwargs`` with what is actually sent."""

    def response(self, record: CallRecord, result: Any) -> None:
        """Record a non-streamed result: response id/model, finish reasons, usage, outputs."""

    def stream_accumulator(self, record: CallRecord) -> StreamAccumulator:
        raise NotImplementedError(f"{type(self).__name__} does not stream")

    def is_stream(self, record: CallRecord, result: Any) -> bool:
        return record.stream

    def handle_result(self, record: CallRecord, result: Any) -> Any:
        """Return what the caller gets: ``result`` itself, or a traced stream around it."""
        if self.is_stream(record, result):
            return wrap_stream(result, record, self.stream_accumulator(record))
        try:
            self.response(record, result)
        finally:
            record.end()
        return result

    def error(self, record: CallRecord, exc: BaseException) -> None:
        """Record provider-specific details of an exception (status code...). Optional."""


class CallRecord:
    """One traced call: what it asked, its span, and what came back."""

    __slots__ = (
        "args",
        "attributes",
        "cache_read_tokens",
        "cache_write_tokens",
        "capture",
        "ended",
        "extra",
        "input_tokens",
        "instance",
        "kwargs",
        "late",
        "operation",
        "options",
        "output_tokens",
        "provider",
        "reasoning_tokens",
        "request_model",
        "response_model",
        "settings",
        "soft_error",
        "span",
        "start_ns",
        "stream",
        "usage_source",
    )

    def __init__(
        self,
        operation: Operation,
        options: AutologOptions,
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.operation = operation
        self.options = options
        self.instance = instance
        self.args = args
        self.kwargs = kwargs
        self.provider = operation.provider_name
        self.attributes: dict[str, Any] = {}
        self.settings = get_settings()
        self.capture = options.capture(self.settings)
        self.stream = False
        self.request_model: str | None = None
        self.response_model: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cache_read_tokens: int | None = None
        self.cache_write_tokens: int | None = None
        self.reasoning_tokens: int | None = None
        self.usage_source = "provider"
        self.extra: dict[str, Any] = {}  # per-operation scratch space (stream flags, tools...)
        self.span: Any = None
        self.late: dict[str, Any] = {}  # attributes learned after the start, set once at the end
        self.soft_error: tuple[str, str] | None = None  # an answer that says it failed
        self.start_ns = 0
        self.ended = False

    # --- before the span starts ------------------------------------------------------------
    def start(self) -> None:
        op = self.operation
        attributes = start_attributes(op.span_type, None)  # span type, active run and model
        attributes.update(self.attributes)
        self.attributes = attributes
        attributes[attr.GEN_AI_OPERATION_NAME] = op.operation_name
        attributes[attr.GEN_AI_PROVIDER_NAME] = self.provider
        if self.request_model:
            attributes[attr.GEN_AI_REQUEST_MODEL] = self.request_model
        self.start_ns = time.perf_counter_ns()
        parent = live_parent()
        span = self.span = get_tracer().start_span(
            self.span_name(), context=parent, kind=SpanKind.CLIENT, attributes=attributes
        )
        if span.is_recording():
            track_local_root(span)  # a bare call is its trace's root: update_current_trace finds it
        calls = otel_context.get_value(PROVIDER_CALLS) if parent is None else None
        if isinstance(calls, list):  # a framework's model step is waiting to hear of us
            calls.append(span)

    def span_name(self) -> str:
        """``"{gen_ai.operation.name} {gen_ai.request.model}"``, as the conventions name spans."""
        if self.request_model:
            return f"{self.operation.operation_name} {self.request_model}"
        return self.operation.operation_name

    # --- recording -------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        if value is not None:
            self._put(key, value)

    def set_content(self, key: str, value: Any, kind: str = "inputs") -> None:
        """A content attribute (messages, instructions, tool definitions, inputs, outputs) as
        capped, redacted JSON text, after the user's redact hook (``kind`` is what the hook is
        told: 'inputs' or 'outputs'). Kept out entirely when content capture is off."""
        if not self.capture or value is None:
            return
        settings = self.settings
        if settings.redact is not None:
            value = self._redacted(settings.redact, kind, plain(value))
            if value is serialize.DROP:
                self._put(attr.CONTENT_DROPPED, True)
                return
        text, truncated = encode_json(value, settings.max_value_bytes)
        self._put(key, text)
        if truncated:
            self._put(attr.TRUNCATED, True)

    def _put(self, key: str, value: Any) -> None:
        # Before the span starts, attributes go into its starting set (one call, seen by
        # samplers); after it, into one batch set when it ends (each set_attribute call takes
        # the span's lock and costs about a microsecond).
        if self.span is None:
            self.attributes[key] = value
        else:
            self.late[key] = value

    def _redacted(self, hook: Callable[[str, str, Any], Any], kind: str, value: Any) -> Any:
        try:
            return hook(self.span_name(), kind, value)
        except Exception:
            # The user's hook failed: what it was meant to clean must not be stored as is.
            logger.warning("tracepond: the redact hook raised; content dropped.", exc_info=True)
            return serialize.DROP

    def set_inputs(self, value: Any) -> None:
        self.set_content(attr.INPUTS, value, "inputs")

    def set_outputs(self, value: Any) -> None:
        self.set_content(attr.OUTPUTS, value, "outputs")

    def set_response(
        self,
        response_id: str | None = None,
        model: str | None = None,
        finish_reasons: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        late = self.late
        if response_id:
            late[attr.GEN_AI_RESPONSE_ID] = response_id
        if model:
            self.response_model = model
            late[attr.GEN_AI_RESPONSE_MODEL] = model
        if finish_reasons:
            late[attr.GEN_AI_RESPONSE_FINISH_REASONS] = list(finish_reasons)

    def set_usage(
        self,
        input_tokens: int | None,
        output_tokens: int | None,
        *,
        cache_read: int | None = None,
        reasoning: int | None = None,
        source: str | None = None,
        cache_write: int | None = None,
    ) -> None:
        """Token counts; written to the span (with cost) when the call ends. ``input_tokens``
        includes the cached ones: ``cache_read`` (read from a prompt cache) and ``cache_write``
        (written to one, which Anthropic models on Bedrock bill at their own rate)."""
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cache_read_tokens = cache_read
        self.cache_write_tokens = cache_write
        self.reasoning_tokens = reasoning
        if source is not None:
            self.usage_source = source

    def set_error(self, error_type: str, message: str = "") -> None:
        """The call returned, but its answer says it failed (a Responses API ``failed``
        status): the span ends with status ERROR and ``error.type``, without an exception."""
        self.soft_error = (error_type, message)

    def first_chunk(self, now_ns: int) -> None:
        self.late[attr.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (now_ns - self.start_ns) / 1e9

    # --- the end ---------------------------------------------------------------------------
    def fail(self, exc: BaseException) -> None:
        """The provider raised: record it and end the span (the caller re-raises ``exc``)."""
        try:
            self.operation.error(self, exc)
        except Exception:
            log_internal_error(f"{self.operation.where}.error")
        self.end(exc)

    def end(self, error: BaseException | None = None) -> None:
        """End the span once: usage, cost, metrics, status."""
        if self.ended:
            return
        self.ended = True
        span = self.span
        duration_s = (time.perf_counter_ns() - self.start_ns) / 1e9
        try:
            if self.input_tokens is not None or self.output_tokens is not None:
                self._write_usage(self.late)
            if self.late:
                span.set_attributes(self.late)
            if error is None and self.soft_error is not None:
                error_type, message = self.soft_error
                span.set_attribute(attr.ERROR_TYPE, error_type)
                text = serialize.redact_text(f"{error_type}: {message}" if message else error_type)
                span.set_status(Status(StatusCode.ERROR, text[:1024]))
            elif error is None:
                span.set_status(Status(StatusCode.OK))
            else:
                record_error(span, error)
            record_metrics = self.options.metrics
            if record_metrics or (record_metrics is None and self.settings.metrics):
                metrics.record_call(self, duration_s, error)
        except Exception:
            log_internal_error(f"{self.operation.where}.end")
        finally:
            end_span(span)  # ends it and forgets it as a local root

    def _write_usage(self, late: dict[str, Any]) -> None:
        if self.input_tokens is not None:
            late[attr.GEN_AI_USAGE_INPUT_TOKENS] = self.input_tokens
        if self.output_tokens is not None:
            late[attr.GEN_AI_USAGE_OUTPUT_TOKENS] = self.output_tokens
        if self.cache_read_tokens is not None:
            late[attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = self.cache_read_tokens
        if self.cache_write_tokens is not None:
            late[attr.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = self.cache_write_tokens
        if self.reasoning_tokens is not None:
            late[attr.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = self.reasoning_tokens
        late[attr.USAGE_SOURCE] = self.usage_source
        usage = pricing.Usage(
            self.input_tokens or 0,
            self.output_tokens or 0,
            self.cache_read_tokens or 0,
            self.cache_write_tokens or 0,
        )
        # The answered model where the table knows it, else the requested one (an answered
        # version such as Gemini's "gemini-2.5-flash-preview-09-2025" may not be listed).
        cost = pricing.cost_for(self.provider, self.response_model, usage)
        if cost is None and self.request_model != self.response_model:
            cost = pricing.cost_for(self.provider, self.request_model, usage)
        if cost is not None:
            late[attr.COST_USD] = cost[0]
            late[attr.COST_SOURCE] = cost[1]


def _begin(
    operation: Operation,
    options: AutologOptions,
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> CallRecord | None:
    """Steps 1-3 of the plan; None means: call through untraced."""
    if is_suppressed():
        return None
    try:
        record = CallRecord(operation, options, instance, args, kwargs)
        operation.request(record)
        record.start()
    except Exception:
        log_internal_error(f"{operation.where}.request")
        return None
    return record


def _complete(record: CallRecord, result: Any) -> Any:
    """Step 5: the caller's value, with the span ended or handed to a stream proxy."""
    try:
        return record.operation.handle_result(record, result)
    except Exception:
        log_internal_error(f"{record.operation.where}.response")
        record.end()
        return result


def make_wrapper(operation: Operation, options: AutologOptions) -> Wrapper:
    """The wrapt wrapper ``(wrapped, instance, args, kwargs)`` for one patched method."""
    if operation.is_async:
        return _async_shell(operation, options)
    return _sync_shell(operation, options)


def _sync_shell(operation: Operation, options: AutologOptions) -> Wrapper:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        record = _begin(operation, options, instance, args, kwargs)
        if record is None:
            return wrapped(*args, **kwargs)
        token = otel_context.attach(otel_trace.set_span_in_context(record.span))
        try:
            result = wrapped(*record.args, **record.kwargs)
        except BaseException as exc:
            record.fail(exc)
            raise
        finally:
            otel_context.detach(token)
        return _complete(record, result)

    return wrapper


def _async_shell(operation: Operation, options: AutologOptions) -> Wrapper:
    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        record = _begin(operation, options, instance, args, kwargs)
        if record is None:
            return await wrapped(*args, **kwargs)
        token = otel_context.attach(otel_trace.set_span_in_context(record.span))
        try:
            result = await wrapped(*record.args, **record.kwargs)
        except BaseException as exc:
            record.fail(exc)
            raise
        finally:
            otel_context.detach(token)
        return _complete(record, result)

    return wrapper
