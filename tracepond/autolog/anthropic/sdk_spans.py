"""anthropic 2.x's own OpenTelemetry span of each call, next to tracepond's.

The SDK starts an OpenTelemetry span of its own per call, on the app's global provider,
and sends its trace context with the request. Inside a call that tracepond traces:
- with use_global_provider, tracepond records on that provider too, so the SDK's span would be
  the same call stored a second time (its tokens counted twice in the trace): the SDK gets a
  tracer whose spans record nothing and carry tracepond's span context, which the request
  still propagates;
- when the app has no OpenTelemetry SDK provider, the SDK's span would record nothing, and its
  only effect would be to put tracepond's private trace context on the wire (and to spend as
  much time as tracepond's own recording): the SDK gets no span, and the request goes out
  exactly as it does untraced;
- an app with its own provider keeps the SDK's spans, as without tracepond.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import trace as otel_trace

from tracepond.autolog.anthropic.operations import PLATFORMS
from tracepond.config import get_settings
from tracepond.conventions import attributes as attr
from tracepond.conventions.span_types import SpanType
from tracepond.tracing.provider import TRACER_NAME

_PROVIDERS = frozenset(name for _classes, name in PLATFORMS) | {"anthropic"}
_NO_SDK_PROVIDER = (otel_trace.ProxyTracerProvider, otel_trace.NoOpTracerProvider)


class _ParentOnlyTracer(otel_trace.NoOpTracer):
    def start_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        parent = otel_trace.get_current_span(context).get_span_context()
        return otel_trace.NonRecordingSpan(parent)


_PARENT_ONLY = _ParentOnlyTracer()


def sdk_span_wrapper(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wraps ``anthropic._base_client.start_api_call_span(tracer, ...)``."""
    if args and _is_traced_call(otel_trace.get_current_span()):
        if get_settings().use_global_provider:
            args = (_PARENT_ONLY, *args[1:])
        elif isinstance(otel_trace.get_tracer_provider(), _NO_SDK_PROVIDER):
            return None  # what the SDK itself returns for a span it would not record or send
    return wrapped(*args, **kwargs)


def _is_traced_call(span: Any) -> bool:
    """True when ``span`` is tracepond's span of an anthropic call (the shell makes it current)."""
    scope = getattr(span, "instrumentation_scope", None)
    if getattr(scope, "name", None) != TRACER_NAME:
        return False
    attributes = getattr(span, "attributes", None) or {}
    return bool(
        attributes.get(attr.SPAN_TYPE) == SpanType.CHAT_MODEL
        and attributes.get(attr.GEN_AI_PROVIDER_NAME) in _PROVIDERS
    )
