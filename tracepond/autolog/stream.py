"""The one stream proxy: provider streams that end their span exactly once on every way out.

A traced streamed call returns ``wrap_stream(stream, record, accumulator)`` instead of the
provider's stream. The proxy is a ``wrapt.ObjectProxy``: the caller sees the provider's object
(``isinstance`` checks pass, ``.response`` and every other attribute are the provider's), and the
proxy's own state lives on ``_self_*`` attributes. It serves any iterable stream: OpenAI's and
Groq's SSE ``Stream`` / ``AsyncStream`` and botocore's ``EventStream`` (Bedrock), because it only
relies on ``iter()`` / ``aiter()`` of the wrapped object and ``close()`` when the caller calls it.

Every way out reaches one idempotent ``_self_finish(error, outcome)``:

==========================================  ============  =====================
way out                                     outcome       span status
==========================================  ============  =====================
iterated to the end                         ``complete``  OK
``break`` (the iteration generator closes)  ``stopped``   OK
``close()`` / ``aclose()``                  ``closed``    OK
``with`` / ``async with`` exits             ``closed``    OK
abandoned, collected by the GC              ``abandoned`` OK
the provider raises mid-stream              ``error``     ERROR (same exception re-raised)
==========================================  ============  =====================

What a stream carried is the provider's business: an accumulator (see :class:`StreamAccumulator`)
sees every item as it passes (``on_item``; returning True hides the item from the caller, which
is how ``autolog(stream_usage=True)`` removes the usage-only chunk it asked for) and writes the
aggregate onto the call record once, in ``finish``. Time to the first item is recorded here, for
every provider.

``wrap_stream`` picks :class:`TracedStream` or :class:`AsyncTracedStream` by whether the object
is an async iterable. ``finish_stream(obj)`` ends the span of a traced stream held by a helper
object (openai's ``chat.completions.stream()`` closes the HTTP response, not our proxy);
``helper_close_wrappers(attribute)`` patches such a helper's ``close()`` to do it.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import wrapt

from tracepond.autolog.patching import Wrapper
from tracepond.conventions import attributes as attr
from tracepond.errors import log_internal_error

if TYPE_CHECKING:
    from tracepond.autolog.provider import CallRecord


class StreamAccumulator(Protocol):
    """What one provider's stream strategy does with the items passing through the proxy."""

    def on_item(self, item: Any) -> bool:
        """Record one item; return True to hide it from the caller."""

    def finish(self, record: CallRecord) -> None:
        """Write what the stream carried (output, usage, finish reasons...) onto ``record``."""


class _StreamCore(wrapt.ObjectProxy):  # type: ignore[type-arg,misc]
    """State and the single finish shared by the sync and async proxies."""

    def __init__(self, wrapped: Any, record: CallRecord, accumulator: StreamAccumulator) -> None:
        super().__init__(wrapped)
        self._self_record = record
        self._self_accumulator = accumulator
        self._self_iterator: Any = None
        self._self_first = True
        self._self_done = False

    def _self_observe(self, item: Any) -> bool:
        """Feed one item to the accumulator; True when the caller must not see it."""
        if self._self_first:
            self._self_first = False
            self._self_record.first_chunk(time.perf_counter_ns())
        try:
            return self._self_accumulator.on_item(item)
        except Exception:
            log_internal_error("autolog.stream.on_item")
            return False

    def _self_finish(self, error: BaseException | None = None, outcome: str = "complete") -> None:
        """End the span, once, whatever the way out."""
        if self._self_done:
            return
        self._self_done = True
        record = self._self_record
        try:
            self._self_accumulator.finish(record)
            record.set(attr.STREAM_OUTCOME, outcome)
        except Exception:
            log_internal_error("autolog.stream.finish")
        if error is None:
            record.end()
        else:
            # through the operation's error(): a stream whose request is sent on the first read
            # (google-genai's) raises its HTTP error here, and the status code belongs on the span
            record.fail(error)

    def __del__(self) -> None:
        # An abandoned stream: the caller dropped it without reading it to the end or closing it.
        if not self._self_done:
            self._self_finish(outcome="abandoned")


class TracedStream(_StreamCore):
    """A synchronous provider stream whose span ends on every way out."""

    def __iter__(self) -> Iterator[Any]:
        # The per-item path of a for loop, written out with locals: it runs once per chunk in
        # the caller's thread, where every method call and proxy attribute read shows.
        iterator = self._self_iterator
        if iterator is None:
            iterator = self._self_iterator = iter(self.__wrapped__)
        on_item = self._self_accumulator.on_item
        try:
            while True:
                try:
                    item = next(iterator)
                except StopIteration:
                    self._self_finish()
                    return
                except BaseException as exc:
                    self._self_finish(exc, "error")
                    raise
                if self._self_first:
                    self._self_first = False
                    self._self_record.first_chunk(time.perf_counter_ns())
                try:
                    hidden = on_item(item)
                except Exception:
                    log_internal_error("autolog.stream.on_item")
                    hidden = False
                if not hidden:
                    yield item
        finally:
            # Reached without finishing only when the caller stopped early: break, or the
            # iterator was dropped (a helper's generator closed, GC).
            self._self_finish(outcome="stopped")

    def __next__(self) -> Any:
        iterator = self._self_iterator
        if iterator is None:
            iterator = self._self_iterator = iter(self.__wrapped__)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                self._self_finish()
                raise
            except BaseException as exc:
                self._self_finish(exc, "error")
                raise
            if not self._self_observe(item):
                return item

    def __enter__(self) -> TracedStream:
        enter = getattr(type(self.__wrapped__), "__enter__", None)
        if enter is None:
            raise TypeError(
                f"{type(self.__wrapped__).__name__!r} object does not support the context "
                "manager protocol"
            )
        enter(self.__wrapped__)
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, traceback)
        finally:
            self._self_finish(outcome="closed")

    def close(self) -> Any:
        try:
            result = self.__wrapped__.close()
        except BaseException as exc:
            self._self_finish(exc, "error")
            raise
        if inspect.isawaitable(result):  # a stream whose close() is a coroutine
            return _finish_after(self, result)
        self._self_finish(outcome="closed")
        return result


class AsyncTracedStream(_StreamCore):
    """An asynchronous provider stream whose span ends on every way out."""

    async def __aiter__(self) -> AsyncIterator[Any]:
        iterator = self._self_iterator
        if iterator is None:
            iterator = self._self_iterator = self.__wrapped__.__aiter__()
        on_item = self._self_accumulator.on_item
        try:
            while True:
                try:
                    item = await iterator.__anext__()
                except StopAsyncIteration:
                    self._self_finish()
                    return
                except BaseException as exc:
                    self._self_finish(exc, "error")
                    raise
                if self._self_first:
                    self._self_first = False
                    self._self_record.first_chunk(time.perf_counter_ns())
                try:
                    hidden = on_item(item)
                except Exception:
                    log_internal_error("autolog.stream.on_item")
                    hidden = False
                if not hidden:
                    yield item
        finally:
            self._self_finish(outcome="stopped")

    async def __anext__(self) -> Any:
        iterator = self._self_iterator
        if iterator is None:
            iterator = self._self_iterator = self.__wrapped__.__aiter__()
        while True:
            try:
                item = await iterator.__anext__()
            except StopAsyncIteration:
                self._self_finish()
                raise
            except BaseException as exc:
                self._self_finish(exc, "error")
                raise
            if not self._self_observe(item):
                return item

    async def __aenter__(self) -> AsyncTracedStream:
        enter = getattr(type(self.__wrapped__), "__aenter__", None)
        if enter is None:
            raise TypeError(
                f"{type(self.__wrapped__).__name__!r} object does not support the asynchronous "
                "context manager protocol"
            )
        await enter(self.__wrapped__)
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, traceback)
        finally:
            self._self_finish(outcome="closed")

    def close(self) -> Any:
        return _close_through(self, "close")

    def aclose(self) -> Any:
        return _close_through(self, "aclose")


def _close_through(proxy: _StreamCore, method: str) -> Any:
    """Call the wrapped stream's close method; finish once it has run (awaited if async)."""
    try:
        result = getattr(proxy.__wrapped__, method)()
    except BaseException as exc:
        proxy._self_finish(exc, "error")
        raise
    if inspect.isawaitable(result):
        return _finish_after(proxy, result)
    proxy._self_finish(outcome="closed")
    return result


async def _finish_after(proxy: _StreamCore, awaitable: Awaitable[Any]) -> Any:
    try:
        result = await awaitable
    except BaseException as exc:
        proxy._self_finish(exc, "error")
        raise
    proxy._self_finish(outcome="closed")
    return result


def wrap_stream(stream: Any, record: CallRecord, accumulator: StreamAccumulator) -> Any:
    """Return ``stream`` behind the sync or async proxy, which ends ``record`` exactly once."""
    if hasattr(type(stream), "__aiter__"):
        return AsyncTracedStream(stream, record, accumulator)
    return TracedStream(stream, record, accumulator)


def finish_stream(stream: Any, outcome: str = "closed") -> None:
    """End the span of ``stream`` if it is one of our proxies (no-op for anything else)."""
    if is_traced_stream(stream):
        stream._self_finish(outcome=outcome)


def helper_close_wrappers(attribute: str) -> tuple[Wrapper, Wrapper]:
    """(sync, async) wrappers for the ``close()`` of a provider's stream helper that holds our
    traced stream in ``attribute`` but closes something else (the HTTP response): once the
    helper's own close has run, the traced stream's span ends too. openai's
    ``ChatCompletionStream`` keeps it in ``_raw_stream``, anthropic's ``MessageStream`` in
    ``_iterator``."""

    def close(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return wrapped(*args, **kwargs)
        finally:
            finish_stream(getattr(instance, attribute, None))

    async def aclose(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return await wrapped(*args, **kwargs)
        finally:
            finish_stream(getattr(instance, attribute, None))

    return close, aclose


def is_traced_stream(obj: Any) -> bool:
    """True for a stream returned by :func:`wrap_stream`."""
    return type(obj) in (TracedStream, AsyncTracedStream)
