"""Autolog for the OpenAI Agents SDK (``openai-agents`` 0.24 and later in the 0.x line; tested
with 0.24).

``patch()`` adds a tracing processor to the SDK (``agents.add_trace_processor``), next to the
SDK's own exporter, which it leaves alone, and wraps ``AgentRunner.run`` / ``run_streamed`` to
give the run's span its input and final output (:mod:`tracepond.autolog.openai_agents_runs`);
``autolog(disable=True)`` takes both out again. The SDK reports each step of a run to its
processors; tracepond records them as spans:

===========================  ===============================  ==========  ====================
SDK trace / span             tracepond span                   span type   what it records
===========================  ===============================  ==========  ====================
trace (``Runner.run``,       the workflow name                AGENT       group id as
``with trace(...)``)         (``"Agent workflow"``)                       ``gen_ai.conversation.id``
agent                        ``invoke_agent {agent}``         AGENT       agent name, tools,
                                                                          handoffs, output type
function (a tool call)       ``execute_tool {tool}``          TOOL        arguments, result
handoff                      ``handoff {from} -> {to}``       CHAIN       both agents
guardrail                    ``guardrail {name}``             CHAIN       whether it tripped
custom                       its name                         UNKNOWN     its data
response / generation        (see below)                      CHAT_MODEL
task, turn                   none: their steps nest under the run and the agent
===========================  ===============================  ==========  ====================

The model calls: when autolog traces the client underneath (``autolog()`` traces ``openai``), the
SDK's response and generation spans are left out and autolog's own ``chat`` span, with its
messages, usage and cost, is the one recorded, as a child of the agent's span. When no provider
span recorded the call (the ``openai`` provider switched off, a LiteLLM model, a client method
autolog cannot see), the SDK's span is recorded instead, as a CHAT_MODEL span from what the SDK
reports: model, usage, input and output. Each call is in the trace once either way.

A step's span is the current OpenTelemetry span while the step runs, which is what makes the
``openai`` client's span (and the app's own ``@trace`` functions in a tool) nest under it. Errors
the SDK attaches to a step (a tool that raised, a tripped guardrail) make its span ERROR; the SDK's
own exceptions reach the caller untouched, tracepond only watches.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from tracepond.autolog import openai_agents_runs as runs
from tracepond.autolog import openai_agents_spans as steps
from tracepond.autolog.bridge import SpanBridge
from tracepond.autolog.patching import Patcher
from tracepond.autolog.provider import AutologOptions
from tracepond.errors import log_internal_error
from tracepond.tracing.suppress import is_suppressed

NAME = "openai_agents"
PACKAGE = "agents"
INSTALL_HINT = 'pip install "tracepond[agents]"'

# Exceptions that end a step without it failing: a consumer that stopped reading a streamed run.
_NOT_FAILURES = (GeneratorExit, asyncio.CancelledError)


def patch(patcher: Patcher, options: AutologOptions) -> None:
    """Add tracepond's processor to the SDK's trace provider; wrap the runner for the run's input
    and output."""
    import agents.run as sdk_run
    import agents.tracing as sdk_tracing

    bridge = SpanBridge(options)
    patcher.wrap(sdk_run, "AgentRunner.run", runs.make_run_wrapper(bridge))
    patcher.wrap(sdk_run, "AgentRunner.run_streamed", runs.make_streamed_wrapper())
    processor = _build_processor(sdk_tracing.TracingProcessor, bridge)
    sdk_tracing.add_trace_processor(processor)
    patcher.on_unpatch(
        "agents.tracing:add_trace_processor(TracepondProcessor)",
        lambda: _remove_processor(sdk_tracing, processor),
    )


def _remove_processor(sdk_tracing: Any, processor: Any) -> None:
    """Take ``processor`` out of the SDK's list. The SDK only offers to replace the whole list,
    and the list is private, so: switch ours off first (it then ignores every event, even if
    it cannot be taken out of a provider the app replaced), then set the list without it."""
    processor.enabled = False
    multi = getattr(sdk_tracing.get_trace_provider(), "_multi_processor", None)
    current = getattr(multi, "_processors", None)
    if isinstance(current, tuple):
        sdk_tracing.set_trace_processors([p for p in current if p is not processor])
    processor.bridge.end_all()  # no end event reaches it now
    _skipped.clear()


def _build_processor(base: type, bridge: SpanBridge) -> Any:
    """The processor, as a subclass of the SDK's ``TracingProcessor`` (imported by ``patch()``
    only, so this module loads without the SDK installed)."""

    class TracepondProcessor(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self.bridge = bridge
            self.enabled = True

        def on_trace_start(self, trace: Any) -> None:
            if self.enabled and not is_suppressed():
                _guarded(_trace_start, bridge, trace)

        def on_trace_end(self, trace: Any) -> None:
            if self.enabled:
                _guarded(_trace_end, bridge, trace)

        def on_span_start(self, span: Any) -> None:
            if self.enabled and not is_suppressed():
                _guarded(_span_start, bridge, span)

        def on_span_end(self, span: Any) -> None:
            if self.enabled:
                _guarded(_span_end, bridge, span)

        def shutdown(self) -> None:
            """Nothing of ours to flush: tracepond's own pipeline flushes at exit."""

        def force_flush(self) -> None:
            """As :meth:`shutdown`."""

    return TracepondProcessor()


def _guarded(handler: Any, bridge: SpanBridge, item: Any) -> None:
    try:
        handler(bridge, item)
    except Exception:
        log_internal_error(f"openai_agents.{handler.__name__}")


# --- traces ----------------------------------------------------------------------------------


def _trace_start(bridge: SpanBridge, trace: Any) -> None:
    key = ("trace", trace.trace_id)
    step = bridge.start(key, str(trace.name), steps.AGENT, attributes=steps.trace_attributes(trace))
    runs.trace_started(bridge, key, step)


def _trace_end(bridge: SpanBridge, trace: Any) -> None:
    key = ("trace", trace.trace_id)
    if not runs.trace_ending(bridge, key):
        _end(bridge, key, None)


# --- spans -----------------------------------------------------------------------------------

# Steps with no span of their own (task, turn, a model call that autolog records): their
# children go to the nearest recorded ancestor. By SDK span id -> that ancestor's key.
_skipped: dict[str, tuple[str, str]] = {}
_MAX_SKIPPED = 10_000


def _parent_key(span: Any) -> tuple[str, str]:
    parent_id = span.parent_id
    if parent_id is None:
        return ("trace", span.trace_id)
    return _skipped.get(parent_id, ("span", parent_id))


def _span_start(bridge: SpanBridge, span: Any) -> None:
    data = span.span_data
    parent = _parent_key(span)
    key = ("span", span.span_id)
    if data.type in steps.MODEL_KINDS:
        bridge.defer(key, parent=parent)  # a span only if no provider span records the call
        return
    plan = steps.plan_for(data)
    if plan is None:
        if len(_skipped) >= _MAX_SKIPPED:
            _skipped.clear()  # spans that never ended; forgetting them only flattens their tree
        _skipped[span.span_id] = parent
        return
    name, span_type, attributes = plan
    bridge.start(key, name, span_type, parent=parent, attributes=attributes)


def _span_end(bridge: SpanBridge, span: Any) -> None:
    if _skipped.pop(span.span_id, None) is not None:
        return
    key = ("span", span.span_id)
    step = bridge.get(key)
    if step is None:
        return  # started before autolog(), or while suppressed
    data = span.span_data
    if data.type in steps.MODEL_KINDS:
        if step.provider_calls:
            bridge.end(key)  # autolog's provider span is the record of this call
            return
        name, span_type, attributes = steps.model_plan(data)
        bridge.materialize(step, name, span_type, attributes)
    steps.record_end(bridge, step, data)
    _end(bridge, key, span.error)


def _end(bridge: SpanBridge, key: tuple[str, str], error: Any) -> None:
    """End a step: the exception leaving the SDK's ``with`` block when there is one (the SDK
    finishes a span from its ``__exit__`` or a ``finally``), else the error it attached."""
    active = sys.exc_info()[1]
    if active is not None and not isinstance(active, _NOT_FAILURES):
        step = bridge.end(key, active)
        if step is not None and error:
            steps.record_sdk_error(step, error)
        return
    if error:
        bridge.end(key, error_type=str(error.get("message") or "error"), message=_detail(error))
    else:
        bridge.end(key)


def _detail(error: Any) -> str | None:
    data = error.get("data")
    if not data:
        return None
    detail = data.get("error") if isinstance(data, dict) else None
    return str(detail) if detail is not None else json.dumps(data, default=str)
