"""tracepond's LangChain callback handler and its process-wide installation.

Imported by :func:`tracepond.autolog.langchain.patch` only, once autolog knows langchain-core is
installed. See that module for what becomes which span.

The handler is synchronous and ``run_inline``: LangChain then calls it in the very context the
run executes in, for sync and async runs alike (a non-inline sync handler would be called in an
executor thread, and the span made current there would not be current where the model call
happens). Every event is guarded: a tracepond failure never reaches LangChain, which would log it
and, with ``raise_error``, re-raise it into the app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.context import register_configure_hook

from tracepond.autolog import langchain_values as values
from tracepond.autolog.bridge import SpanBridge
from tracepond.autolog.provider import AutologOptions
from tracepond.conventions import attributes as attr
from tracepond.conventions.span_types import SpanType
from tracepond.errors import _raise_internal_errors, log_internal_error
from tracepond.tracing.suppress import is_suppressed

F = TypeVar("F", bound=Callable[..., None])

# LangGraph tags its plumbing runs (channel writes, branch routing) with this; they get no span.
_HIDDEN_TAG = "langsmith:hidden"
_MAX_HIDDEN = 10_000


def _guarded(method: F) -> F:
    def guarded(self: TracepondCallbackHandler, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception:
            log_internal_error(f"langchain.{method.__name__}")

    guarded.__name__ = method.__name__
    guarded.__doc__ = method.__doc__
    return guarded  # type: ignore[return-value]


class TracepondCallbackHandler(BaseCallbackHandler):
    """Records LangChain runs as tracepond spans (see :mod:`tracepond.autolog.langchain`).

    ``autolog()`` installs one for every run; an app may also pass one itself in
    ``config={"callbacks": [handler]}``.
    """

    run_inline = True

    @property
    def raise_error(self) -> bool:  # type: ignore[override]
        """LangChain logs and swallows a handler's exception unless this is true. Only in
        tracepond's own tests, where internal errors are re-raised to fail them, is it true."""
        return _raise_internal_errors()

    def __init__(self, options: AutologOptions | None = None) -> None:
        self.bridge = SpanBridge(options or AutologOptions())
        self.enabled = True
        # Hidden runs, by run id -> the run their children nest under instead.
        self._hidden: dict[UUID, UUID | None] = {}

    # --- starting ------------------------------------------------------------------------
    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str,
        span_type: str,
        attributes: Mapping[str, Any],
        inputs: Any,
        fallback: dict[str, Any] | None = None,
    ) -> None:
        if not self.enabled or is_suppressed():
            return  # ends still run once disabled: the spans that are open end properly
        parent = self._parent(parent_run_id)
        step = self.bridge.start(
            run_id,
            name,
            span_type,
            parent=parent,
            attributes=attributes,
            record_calls=fallback is not None,
        )
        if fallback is not None:
            step.fallback = fallback
        self.bridge.set_inputs(step, inputs)

    def _parent(self, parent_run_id: UUID | None) -> UUID | None:
        while parent_run_id is not None and parent_run_id in self._hidden:
            parent_run_id = self._hidden[parent_run_id]
        return parent_run_id

    @_guarded
    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if tags and _HIDDEN_TAG in tags:
            if len(self._hidden) >= _MAX_HIDDEN:
                self._hidden.clear()
            self._hidden[run_id] = parent_run_id
            return
        name = values.run_name(serialized, kwargs, "chain")
        attributes = values.run_attributes(tags, metadata)
        self._start(run_id, parent_run_id, name, SpanType.CHAIN, attributes, inputs)

    @_guarded
    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        call = values.model_call("chat", serialized, metadata, kwargs)
        attributes = {**values.run_attributes(tags, metadata), **call.attributes}
        inputs = messages[0] if len(messages) == 1 else messages
        self._start(
            run_id, parent_run_id, call.name, SpanType.CHAT_MODEL, attributes, inputs, call.fallback
        )

    @_guarded
    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        call = values.model_call("text_completion", serialized, metadata, kwargs)
        attributes = {**values.run_attributes(tags, metadata), **call.attributes}
        inputs = prompts[0] if len(prompts) == 1 else prompts
        self._start(
            run_id, parent_run_id, call.name, SpanType.LLM, attributes, inputs, call.fallback
        )

    @_guarded
    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        tool = values.run_name(serialized, kwargs, "tool")
        attributes = {
            **values.run_attributes(tags, metadata),
            **values.tool_attributes(tool, serialized, kwargs.get("tool_call_id")),
        }
        arguments = inputs if inputs is not None else input_str
        self._start(
            run_id, parent_run_id, f"execute_tool {tool}", SpanType.TOOL, attributes, arguments
        )
        step = self.bridge.get(run_id)
        if step is not None:
            self.bridge.set_content(step, values.GEN_AI_TOOL_CALL_ARGUMENTS, arguments, "inputs")

    @_guarded
    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = values.run_name(serialized, kwargs, "retriever")
        attributes = values.run_attributes(tags, metadata)
        self._start(run_id, parent_run_id, name, SpanType.RETRIEVER, attributes, {"query": query})

    # --- ending ----------------------------------------------------------------------------
    @_guarded
    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if self._hidden.pop(run_id, "absent") != "absent":
            return
        self._finish(run_id, outputs)

    @_guarded
    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        step = self.bridge.get(run_id)
        if step is not None:
            values.record_model_result(self.bridge, step, response)
            self.bridge.end(run_id)

    @_guarded
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        step = self.bridge.get(run_id)
        if step is not None:
            result = values.tool_result(output)
            self.bridge.set_content(step, values.GEN_AI_TOOL_CALL_RESULT, result, "outputs")
        self._finish(run_id, output)

    @_guarded
    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, [values.document(doc) for doc in documents])

    @_guarded
    def on_agent_action(self, action: Any, *, run_id: UUID, **kwargs: Any) -> None:
        step = self.bridge.get(run_id)
        if step is not None:
            self.bridge.set_attributes(step, {attr.SPAN_TYPE: SpanType.AGENT})

    @_guarded
    def on_agent_finish(self, finish: Any, *, run_id: UUID, **kwargs: Any) -> None:
        step = self.bridge.get(run_id)
        if step is not None:
            self.bridge.set_attributes(step, {attr.SPAN_TYPE: SpanType.AGENT})

    def _finish(self, run_id: UUID, outputs: Any) -> None:
        step = self.bridge.get(run_id)
        if step is not None:
            self.bridge.set_outputs(step, outputs)
            self.bridge.end(run_id)

    # --- errors ----------------------------------------------------------------------------
    @_guarded
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if self._hidden.pop(run_id, "absent") != "absent":
            return
        self._fail(run_id, error)

    @_guarded
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)

    @_guarded
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)

    @_guarded
    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)

    def _fail(self, run_id: UUID, error: BaseException) -> None:
        if values.is_control_flow(error):
            self.bridge.end(run_id)
        else:
            self.bridge.end(run_id, error)


# --- process-wide installation --------------------------------------------------------------


class _CurrentHandler:
    """What LangChain's configure hook reads: it calls ``.get()`` on the object it was given
    (a ContextVar, normally) and adds the handler it returns to the run's callbacks. A
    ContextVar set at ``autolog()`` would hold only in that context (not in threads or tasks
    started before); this holds everywhere, and returns None once autolog is off."""

    def __init__(self) -> None:
        self.handler: TracepondCallbackHandler | None = None

    def get(self) -> TracepondCallbackHandler | None:
        return self.handler


_current = _CurrentHandler()
_registered = False
_lock = threading.Lock()


def install(options: AutologOptions) -> TracepondCallbackHandler:
    """Make a handler part of every LangChain run from now on."""
    global _registered
    handler = TracepondCallbackHandler(options)
    with _lock:
        if not _registered:
            register_configure_hook(_current, inheritable=True)  # type: ignore[arg-type]
            _registered = True
        _current.handler = handler
    return handler


def uninstall(handler: TracepondCallbackHandler) -> None:
    """Stop ``handler``: no new run gets it, and the runs that have it already ignore it."""
    handler.enabled = False
    with _lock:
        if _current.handler is handler:
            _current.handler = None
