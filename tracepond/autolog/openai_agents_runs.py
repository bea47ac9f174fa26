"""A run's input and final output on the span of the trace it started: the SDK's trace events
carry neither, and that span is the root a user reads first (``traces.inputs`` /
``traces.outputs``).

``AgentRunner.run`` (which ``Runner.run`` and ``run_sync`` call) and ``run_streamed`` are
wrapped to note the input in the context; the processor takes it when the run starts its trace.
The output is known only after the SDK has ended the trace, inside ``run``: so for ``run`` the
trace's span is held open at the trace's end and ended by the wrapper once ``run`` returns
(or raises). A streamed run ends in its own task after the wrapper returned its result object,
which by then holds the final output. A trace the app opened itself (``with trace(...)``
around several runs) is left as it is.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracepond.autolog.bridge import OpenStep, SpanBridge
from tracepond.errors import log_internal_error
from tracepond.tracing.spans import end_span, fail_span


@dataclass
class RunNote:
    """One ``run`` / ``run_streamed`` call, as the processor sees it from inside."""

    input: Any
    trace_key: Any = None  # the trace this run started, if it started one
    result: Any = None  # run_streamed's result object
    held: OpenStep | None = None  # run's trace span, kept open until run returns


_current: contextvars.ContextVar[RunNote | None] = contextvars.ContextVar(
    "tracepond_agents_run", default=None
)


def _input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return kwargs["input"] if "input" in kwargs else (args[1] if len(args) > 1 else None)


def make_run_wrapper(bridge: SpanBridge) -> Callable[..., Any]:
    async def run(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        note = RunNote(_input(args, kwargs))
        token = _current.set(note)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _release(bridge, note, error=exc)
            raise
        finally:
            _current.reset(token)
        _release(bridge, note, result=result)
        return result

    return run


def make_streamed_wrapper() -> Callable[..., Any]:
    def run_streamed(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        note = RunNote(_input(args, kwargs))
        token = _current.set(note)  # the run's task copies this context when it is created
        try:
            result = wrapped(*args, **kwargs)
        finally:
            _current.reset(token)
        note.result = result
        return result

    return run_streamed


def trace_started(bridge: SpanBridge, key: Any, step: OpenStep) -> None:
    """The processor started a trace's span: if a run of ours started it, it gets the input."""
    note = _current.get()
    if note is not None and note.trace_key is None:
        note.trace_key = key
        bridge.set_inputs(step, note.input)


def trace_ending(bridge: SpanBridge, key: Any) -> bool:
    """The trace ``key`` ends; True when its span is taken care of here (held for ``run``, or
    given the streamed run's output)."""
    note = _current.get()
    if note is None or note.trace_key != key:
        return False
    if note.result is not None:  # streamed: the result object is out, its output is final
        step = bridge.get(key)
        if step is not None:
            bridge.set_outputs(step, getattr(note.result, "final_output", None))
        return False
    note.held = bridge.hold(key)
    return note.held is not None


def _release(
    bridge: SpanBridge, note: RunNote, *, result: Any = None, error: BaseException | None = None
) -> None:
    step = note.held
    if step is None:
        return
    note.held = None
    try:
        if error is not None:
            fail_span(step.span, error)
            return
        bridge.set_outputs(step, getattr(result, "final_output", None))
        end_span(step.span)
    except Exception:
        log_internal_error("openai_agents.run_output")
        end_span(step.span)
