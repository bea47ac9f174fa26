"""``@trace``: a span around each call of a function, coroutine, generator or async generator.

The span's inputs are the call's arguments by parameter name (``self`` / ``cls`` left out, defaults
filled in), its outputs the return value, or for generators the yielded items (the first
``MAX_ITEMS``, then a count of the rest). Exceptions are recorded and re-raised unchanged.

This is the hot path of every traced call, so the wrapper does the least it can per call: what can
be known at decoration time (the signature, the start attributes, the shell to use) is computed
once; the span is started with ``tracer.start_span`` and made current with a bare context
attach/detach, without a generator-based context manager; a call with no arguments binds nothing.
A generator's span is current only while the generator's own code runs, not while its consumer
does, and it starts at the first ``next()`` (when the generator's code starts).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Span

from tracepond.config import get_settings
from tracepond.conventions import attributes as attr
from tracepond.conventions.span_types import SpanType
from tracepond.errors import log_internal_error
from tracepond.tracing.context import _active_model_id, _active_run
from tracepond.tracing.provider import get_tracer
from tracepond.tracing.spans import (
    LiveSpan,
    check_attribute_keys,
    end_span,
    fail_span,
    live_parent,
    start_attributes,
    track_local_root,
)

F = TypeVar("F", bound=Callable[..., Any])
MAX_ITEMS = 1000  # yielded items kept as a generator's outputs; the rest are counted
_SKIPPED_FIRST = ("self", "cls")

_attach = otel_context.attach
_detach = otel_context.detach
_in_context = otel_trace.set_span_in_context


class _Binder:
    """Maps a call's arguments to parameter names, prepared once per decorated function."""

    __slots__ = ("defaults", "names", "skip", "var_positional")

    def __init__(self, func: Callable[..., Any]) -> None:
        try:
            parameters = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):  # some builtins have no signature: record args as a list
            parameters = [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)]
        self.skip = 1 if parameters and parameters[0].name in _SKIPPED_FIRST else 0
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self.names = tuple(p.name for p in parameters if p.kind in positional)
        self.var_positional = next(
            (p.name for p in parameters if p.kind is inspect.Parameter.VAR_POSITIONAL), None
        )
        self.defaults = tuple(
            (p.name, p.default)
            for p in parameters[self.skip :]
            if p.default is not inspect.Parameter.empty
        )

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Never raises: a call that does not fit the signature fails in the function itself."""
        names = self.names
        inputs = dict(zip(names[self.skip :], args[self.skip :], strict=False))
        if len(args) > len(names) and self.var_positional is not None:
            inputs[self.var_positional] = args[len(names) :]
        for key, value in kwargs.items():
            if not (self.skip and key == names[0]):
                inputs[key] = value
        for key, default in self.defaults:
            if key not in inputs:
                inputs[key] = default
        return inputs


def _name_of(func: Any) -> str:
    inner = getattr(func, "func", None)  # functools.partial
    return str(
        getattr(func, "__name__", None) or getattr(inner, "__name__", None) or type(func).__name__
    )


class _Plan:
    """Everything about a decorated function that does not change between calls."""

    __slots__ = ("attributes", "binder", "name")
    attributes: dict[str, Any] | None

    def __init__(
        self,
        func: Callable[..., Any],
        name: str | None,
        span_type: str,
        attributes: Mapping[str, Any] | None,
    ) -> None:
        self.name = name or _name_of(func)
        start = start_attributes(span_type, attributes, with_context=False)
        # Each start attribute costs the SDK microseconds; UNKNOWN is what an absent type means.
        self.attributes = None if start == {attr.SPAN_TYPE: SpanType.UNKNOWN} else start
        self.binder = _Binder(func)

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Span:
        attributes = self.attributes
        run = _active_run.get()
        model_id = _active_model_id.get()
        if run is not None or model_id is not None:
            attributes = {**(attributes or {})}
            if run is not None:
                attributes[attr.RUN_ID] = run.run_id
                if run.experiment_id is not None:
                    attributes[attr.EXPERIMENT_ID] = run.experiment_id
            if model_id is not None:
                attributes[attr.MODEL_ID] = model_id
        span = get_tracer().start_span(self.name, context=live_parent(), attributes=attributes)
        if span.is_recording():
            track_local_root(span)
            if (args or kwargs) and get_settings().capture_content:
                LiveSpan(span).set_inputs(self.binder.bind(args, kwargs))
        return span


def _finish(span: Span, result: Any) -> None:
    try:
        if result is not None and span.is_recording():
            LiveSpan(span).set_outputs(result)
        end_span(span)
    except Exception:
        log_internal_error("@trace finish")


def _fail(span: Span, exc: BaseException, partial: list[Any] | None = None) -> None:
    try:
        if partial and span.is_recording():  # what a generator yielded before it failed
            LiveSpan(span).set_outputs(partial)
        fail_span(span, exc)
    except Exception:
        log_internal_error("@trace error")


def _start(plan: _Plan, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Span | None:
    try:
        return plan.start(args, kwargs)
    except Exception:
        log_internal_error("@trace start")
        return None


def _wrap_function(func: Callable[..., Any], plan: _Plan) -> Callable[..., Any]:
    @functools.wraps(func)
    def traced(*args: Any, **kwargs: Any) -> Any:
        span = _start(plan, args, kwargs)
        if span is None:
            return func(*args, **kwargs)
        token = _attach(_in_context(span))
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            _detach(token)
        _finish(span, result)
        return result

    return traced


def _wrap_coroutine(func: Callable[..., Any], plan: _Plan) -> Callable[..., Any]:
    @functools.wraps(func)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        span = _start(plan, args, kwargs)
        if span is None:
            return await func(*args, **kwargs)
        token = _attach(_in_context(span))
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            _detach(token)
        _finish(span, result)
        return result

    return traced


class _Items:
    """A generator's yielded items, kept up to MAX_ITEMS and about twice the value cap in memory
    (so a stream of large chunks is not held until it ends), counted beyond; none are kept when
    the span records no content (sampled out, or content capture off)."""

    __slots__ = ("budget", "count", "keep", "kept")

    def __init__(self, span: Span | None) -> None:
        self.kept: list[Any] = []
        self.count = 0
        self.budget = 0
        self.keep = span is not None and span.is_recording()
        if self.keep:
            settings = get_settings()
            self.keep = settings.capture_content
            self.budget = 2 * settings.max_value_bytes

    def add(self, item: Any) -> None:
        if self.keep:
            if self.count < MAX_ITEMS and self.budget > 0:
                self.kept.append(item)
                self.budget -= sys.getsizeof(item)
            self.count += 1

    def outputs(self) -> list[Any]:
        extra = self.count - len(self.kept)
        return [*self.kept, f"…{extra} more items"] if extra else self.kept


def _wrap_generator(func: Callable[..., Any], plan: _Plan) -> Callable[..., Any]:
    @functools.wraps(func)
    def traced(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        span = _start(plan, args, kwargs)
        if span is None:
            return (yield from func(*args, **kwargs))
        context = _in_context(span)
        items = _Items(span)
        token = _attach(context)
        try:
            generator = func(*args, **kwargs)
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            _detach(token)
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            token = _attach(context)
            try:
                if thrown is None:
                    item = generator.send(sent)
                else:
                    item, thrown = generator.throw(thrown), None
            except StopIteration as stop:
                _finish(span, items.outputs())
                return stop.value
            except BaseException as exc:
                _fail(span, exc, items.outputs())
                raise
            finally:
                _detach(token)
            items.add(item)
            try:
                sent = yield item
            except GeneratorExit:
                _close(generator, context, span, items)
                raise
            except BaseException as exc:
                thrown = exc

    return traced


def _close(
    generator: Generator[Any, Any, Any], context: otel_context.Context, span: Span, items: _Items
) -> None:
    """The consumer stopped early (break, close(), garbage collection): close the generator in
    its span's context and end the span with what was yielded so far."""
    token = _attach(context)
    try:
        generator.close()
    except BaseException as exc:
        _fail(span, exc)
        raise
    finally:
        _detach(token)
    _finish(span, items.outputs())


def _wrap_async_generator(func: Callable[..., Any], plan: _Plan) -> Callable[..., Any]:
    @functools.wraps(func)
    async def traced(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        span = _start(plan, args, kwargs)
        context = _in_context(span) if span is not None else otel_context.get_current()
        items = _Items(span)
        try:
            generator = func(*args, **kwargs)
        except BaseException as exc:
            if span is not None:
                _fail(span, exc)
            raise
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            token = _attach(context)
            try:
                if thrown is None:
                    item = await generator.asend(sent)
                else:
                    item, thrown = await generator.athrow(thrown), None
            except StopAsyncIteration:
                if span is not None:
                    _finish(span, items.outputs())
                return
            except BaseException as exc:
                if span is not None:
                    _fail(span, exc, items.outputs())
                raise
            finally:
                _detach(token)
            items.add(item)
            try:
                sent = yield item
            except GeneratorExit:
                await _aclose(generator, context, span, items)
                raise
            except BaseException as exc:
                thrown = exc

    return traced


async def _aclose(
    generator: AsyncGenerator[Any, Any],
    context: otel_context.Context,
    span: Span | None,
    items: _Items,
) -> None:
    token = _attach(context)
    try:
        await generator.aclose()
    except BaseException as exc:
        if span is not None:
            _fail(span, exc)
        raise
    finally:
        _detach(token)
    if span is not None:
        _finish(span, items.outputs())


def _shell(func: Callable[..., Any]) -> Callable[[Callable[..., Any], _Plan], Callable[..., Any]]:
    if inspect.isasyncgenfunction(func):
        return _wrap_async_generator
    if inspect.iscoroutinefunction(func):
        return _wrap_coroutine
    if inspect.isgeneratorfunction(func):
        return _wrap_generator
    return _wrap_function


def _decorate(
    func: Any, name: str | None, span_type: str, attributes: Mapping[str, Any] | None
) -> Any:
    if isinstance(func, (classmethod, staticmethod)):
        return type(func)(_decorate(func.__func__, name, span_type, attributes))
    if not callable(func):
        raise TypeError(f"@trace needs a function, got {type(func).__name__}")
    if attributes is not None:
        check_attribute_keys(attributes)
    plan = _Plan(func, name, span_type, attributes)
    return _shell(func)(func, plan)


@overload
def trace(func: F) -> F: ...


@overload
def trace(
    func: None = None,
    *,
    name: str | None = None,
    span_type: str = SpanType.UNKNOWN,
    attributes: Mapping[str, Any] | None = None,
) -> Callable[[F], F]: ...


def trace(
    func: Any = None,
    *,
    name: str | None = None,
    span_type: str = SpanType.UNKNOWN,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """Trace each call of the decorated function::

        @tracepond.trace
        def answer(question: str) -> str: ...

        @tracepond.trace(name="search", span_type="RETRIEVER", attributes={"index": "docs"})
        async def search(query: str) -> list[str]: ...

    Works on functions, coroutines, generators and async generators, methods, classmethods and
    staticmethods (either decorator order).
    """
    if func is None:
        return lambda wrapped: _decorate(wrapped, name, span_type, attributes)
    return _decorate(func, name, span_type, attributes)
