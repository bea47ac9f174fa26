"""@trace on every kind of callable: spans, inputs, outputs, errors, and the wrapper's identity."""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import json
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tracepond.conventions import attributes as attr
from tracepond.tracing.decorator import MAX_ITEMS


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def inputs(span: ReadableSpan) -> Any:
    return json.loads(span.attributes[attr.INPUTS])


def outputs(span: ReadableSpan) -> Any:
    return json.loads(span.attributes[attr.OUTPUTS])


def test_bare_decorator_on_a_function(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def add(a: int, b: int = 2, *rest: int, scale: int = 1, **extra: Any) -> int:
        """Adds."""
        return (a + b + sum(rest)) * scale

    assert add(1, 2, 3, scale=2, tag="x") == 12
    span = only(spans)
    assert span.name == "add"
    assert span.status.status_code is StatusCode.OK
    assert inputs(span) == {"a": 1, "b": 2, "rest": [3], "scale": 2, "tag": "x"}
    assert outputs(span) == 12
    assert attr.SPAN_TYPE not in span.attributes  # absent means UNKNOWN
    assert add.__name__ == "add" and add.__doc__ == "Adds."
    assert add.__wrapped__ is not None  # type: ignore[attr-defined]
    assert inspect.signature(add) == inspect.signature(add.__wrapped__)  # type: ignore[attr-defined]


def test_defaults_are_filled_in(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def greet(name: str, greeting: str = "hello") -> str:
        return f"{greeting} {name}"

    greet("ada")
    assert inputs(only(spans)) == {"name": "ada", "greeting": "hello"}


def test_no_arguments_and_none_result_record_no_content(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def tick() -> None:
        return None

    tick()
    span = only(spans)
    assert attr.INPUTS not in span.attributes and attr.OUTPUTS not in span.attributes


def test_decorator_with_options(spans: InMemorySpanExporter) -> None:
    @tracepond.trace(name="search docs", span_type="RETRIEVER", attributes={"index": "kb"})
    def search(query: str) -> list[str]:
        return [query.upper()]

    search(query="q")
    span = only(spans)
    assert span.name == "search docs"
    assert span.attributes[attr.SPAN_TYPE] == "RETRIEVER"
    assert span.attributes["index"] == "kb"
    assert inputs(span) == {"query": "q"}


def test_empty_parentheses(spans: InMemorySpanExporter) -> None:
    @tracepond.trace()
    def f() -> int:
        return 1

    assert f() == 1
    assert only(spans).name == "f"


def test_secret_arguments_are_redacted(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def call(prompt: str, api_key: str, max_tokens: int, headers: dict[str, str]) -> str:
        return "ok"

    call("hi", "sk-live-abcdefghijklmnopqrstu", 64, {"Authorization": "Bearer zzz", "X-Id": "1"})
    recorded = inputs(only(spans))
    assert recorded == {
        "prompt": "hi",
        "api_key": "[REDACTED]",
        "max_tokens": 64,
        "headers": {"Authorization": "[REDACTED]", "X-Id": "1"},
    }


def test_exception_recorded_and_reraised_unchanged(spans: InMemorySpanExporter) -> None:
    error = ValueError("bad input")

    @tracepond.trace
    def fail(x: int) -> None:
        raise error

    with pytest.raises(ValueError) as raised:
        fail(1)
    assert raised.value is error
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ValueError: bad input"
    assert span.events[0].name == "exception"
    assert span.events[0].attributes["exception.message"] == "bad input"
    assert attr.OUTPUTS not in span.attributes


def test_nested_traced_functions(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def inner(x: int) -> int:
        return x * 2

    @tracepond.trace
    def outer(x: int) -> int:
        return inner(x) + inner(x + 1)

    assert outer(1) == 6
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == ["inner", "inner", "outer"]
    root = finished[2]
    assert all(s.parent.span_id == root.context.span_id for s in finished[:2])
    assert {s.context.trace_id for s in finished} == {root.context.trace_id}


def test_methods_classmethods_staticmethods(spans: InMemorySpanExporter) -> None:
    class Agent:
        factor = 3

        @tracepond.trace
        def act(self, x: int) -> int:
            return x * self.factor

        @tracepond.trace
        @classmethod
        def build(cls, name: str) -> str:
            return f"{cls.__name__}:{name}"

        @classmethod
        @tracepond.trace
        def build2(cls, name: str) -> str:
            return name

        @tracepond.trace
        @staticmethod
        def util(v: int) -> int:
            return v + 1

        @staticmethod
        @tracepond.trace
        def util2(v: int) -> int:
            return v

    agent = Agent()
    assert agent.act(2) == 6
    assert Agent.build("a") == "Agent:a"
    assert agent.build2("b") == "b"
    assert Agent.util(1) == 2 and agent.util2(5) == 5
    recorded = {s.name: inputs(s) for s in spans.get_finished_spans()}
    assert recorded == {
        "act": {"x": 2},
        "build": {"name": "a"},
        "build2": {"name": "b"},
        "util": {"v": 1},
        "util2": {"v": 5},
    }


async def test_coroutine(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    async def fetch(n: int) -> list[int]:
        await asyncio.sleep(0)
        return list(range(n))

    assert inspect.iscoroutinefunction(fetch)
    assert await fetch(3) == [0, 1, 2]
    span = only(spans)
    assert inputs(span) == {"n": 3} and outputs(span) == [0, 1, 2]


async def test_coroutine_error(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    async def boom() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("async boom")

    with pytest.raises(RuntimeError, match="async boom"):
        await boom()
    assert only(spans).status.status_code is StatusCode.ERROR


async def test_concurrent_coroutines_keep_their_parents(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    async def leaf(i: int) -> int:
        await asyncio.sleep(0.001 * (3 - i))
        return i

    @tracepond.trace
    async def branch(i: int) -> int:
        return await leaf(i)

    await asyncio.gather(*(branch(i) for i in range(3)))
    finished = spans.get_finished_spans()
    branches = {inputs(s)["i"]: s for s in finished if s.name == "branch"}
    for s in finished:
        if s.name == "leaf":
            assert s.parent.span_id == branches[inputs(s)["i"]].context.span_id


def test_generator_span_covers_iteration(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def count(n: int) -> Iterator[int]:
        for i in range(n):
            with tracepond.start_span(f"step {i}"):
                pass
            yield i

    assert inspect.isgeneratorfunction(count)
    generator = count(3)
    assert spans.get_finished_spans() == ()  # nothing ran yet
    assert list(generator) == [0, 1, 2]
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == ["step 0", "step 1", "step 2", "count"]
    parent = finished[-1]
    assert outputs(parent) == [0, 1, 2] and inputs(parent) == {"n": 3}
    assert all(s.parent.span_id == parent.context.span_id for s in finished[:3])


def test_generator_span_not_current_while_consumer_runs(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def items() -> Iterator[int]:
        yield 1
        yield 2

    for _ in items():
        assert tracepond.get_current_span() is None


def test_generator_early_break_ends_the_span(spans: InMemorySpanExporter) -> None:
    closed: list[bool] = []

    @tracepond.trace
    def endless() -> Iterator[int]:
        i = 0
        try:
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    generator = endless()
    for value in generator:
        if value == 2:
            break
    generator.close()
    span = only(spans)
    assert span.status.status_code is StatusCode.OK
    assert outputs(span) == [0, 1, 2]
    assert closed == [True]


def test_generator_error_midway(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def flaky() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    received = []
    with pytest.raises(OSError, match="disk gone"):
        for value in flaky():
            received.append(value)
    assert received == [1]
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "OSError: disk gone"
    assert outputs(span) == [1]  # what it yielded before failing


def test_generator_send_throw_and_return_value(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def echo() -> Iterator[str]:
        received = yield "ready"
        while received != "stop":
            try:
                received = yield f"got {received}"
            except KeyError:
                received = yield "recovered"
        return "done"

    def drive() -> Any:
        generator = echo()
        assert next(generator) == "ready"
        assert generator.send("a") == "got a"
        assert generator.throw(KeyError("k")) == "recovered"
        with pytest.raises(StopIteration) as stop:
            generator.send("stop")
        return stop.value.value

    assert drive() == "done"
    span = only(spans)
    assert span.status.status_code is StatusCode.OK
    assert outputs(span) == ["ready", "got a", "recovered"]


def test_generator_outputs_capped_in_count(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def many() -> Iterator[int]:
        yield from range(MAX_ITEMS + 5)

    assert sum(1 for _ in many()) == MAX_ITEMS + 5
    recorded = outputs(only(spans))
    assert len(recorded) == MAX_ITEMS + 1
    assert recorded[-1] == "…5 more items"


def test_yield_from_a_traced_generator(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def inner() -> Iterator[int]:
        yield 1
        return 7

    def outer() -> Iterator[int]:
        result = yield from inner()
        yield result

    assert list(outer()) == [1, 7]
    assert outputs(only(spans)) == [1]


async def test_async_generator(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    async def stream(n: int) -> AsyncIterator[str]:
        for i in range(n):
            await asyncio.sleep(0)
            with tracepond.start_span(f"chunk {i}"):
                pass
            yield f"c{i}"

    assert inspect.isasyncgenfunction(stream)
    assert [c async for c in stream(2)] == ["c0", "c1"]
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == ["chunk 0", "chunk 1", "stream"]
    assert outputs(finished[-1]) == ["c0", "c1"]
    assert all(s.parent.span_id == finished[-1].context.span_id for s in finished[:2])


async def test_async_generator_early_break_and_aclose(spans: InMemorySpanExporter) -> None:
    cleaned: list[bool] = []

    @tracepond.trace
    async def ticks() -> AsyncIterator[int]:
        try:
            for i in range(100):
                yield i
        finally:
            cleaned.append(True)

    generator = ticks()
    async for value in generator:
        if value == 1:
            break
    await generator.aclose()
    span = only(spans)
    assert span.status.status_code is StatusCode.OK
    assert outputs(span) == [0, 1]
    assert cleaned == [True]


async def test_async_generator_error_and_athrow(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    async def fragile() -> AsyncIterator[int]:
        try:
            yield 1
        except ValueError:
            yield 2
        raise ConnectionError("dropped")

    generator = fragile()
    assert await generator.__anext__() == 1
    assert await generator.athrow(ValueError("nudge")) == 2
    with pytest.raises(ConnectionError, match="dropped"):
        await generator.__anext__()
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[attr.ERROR_TYPE] == "ConnectionError"
    assert outputs(span) == [1, 2]


def test_not_callable_is_rejected() -> None:
    with pytest.raises(TypeError, match="@trace needs a function, got int"):
        tracepond.trace(42)


def test_wrapper_is_functools_wrapped(spans: InMemorySpanExporter) -> None:
    def original(x: int) -> int:
        """Original doc."""
        return x

    traced = tracepond.trace(original)
    assert traced.__wrapped__ is original  # type: ignore[attr-defined]
    assert traced.__qualname__ == original.__qualname__
    assert functools.WRAPPER_ASSIGNMENTS  # the standard set, all copied by functools.wraps
    assert traced.__doc__ == "Original doc."


def test_sampled_out_calls_still_run(spans: InMemorySpanExporter) -> None:
    tracepond.configure(sample_rate=0.0)

    @tracepond.trace
    def work(x: int) -> int:
        assert tracepond.get_current_trace_id() is None
        return x + 1

    assert work(1) == 2
    assert spans.get_finished_spans() == ()


def test_callables_without_a_signature(spans: InMemorySpanExporter) -> None:
    traced_max = tracepond.trace(max)
    assert traced_max(3, 9, 4) == 9
    traced_partial = tracepond.trace(functools.partial(pow, 2))
    assert traced_partial(5) == 32
    recorded = {s.name: s for s in spans.get_finished_spans()}
    assert inputs(recorded["max"]) == {"args": [3, 9, 4]}
    assert outputs(recorded["max"]) == 9
    assert outputs(recorded["pow"]) == 32 and inputs(recorded["pow"]) == {"exp": 5, "mod": None}


def test_a_call_that_does_not_fit_fails_in_the_function(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def one(a: int) -> int:
        return a

    with pytest.raises(TypeError, match="positional argument"):
        one(1, 2)  # type: ignore[call-arg]
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert inputs(span) == {"a": 1}


def test_capture_content_off_records_no_arguments_or_items(spans: InMemorySpanExporter) -> None:
    tracepond.configure(capture_content=False)

    @tracepond.trace
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    @tracepond.trace
    def double(x: int) -> int:
        return 2 * x

    assert list(numbers(3)) == [0, 1, 2] and double(4) == 8
    for span in spans.get_finished_spans():
        assert attr.INPUTS not in span.attributes and attr.OUTPUTS not in span.attributes
        assert span.status.status_code is StatusCode.OK


async def test_cancelled_coroutine_ends_its_span(spans: InMemorySpanExporter) -> None:
    started = asyncio.Event()

    @tracepond.trace
    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[attr.ERROR_TYPE] == "CancelledError"


def test_generator_of_large_items_keeps_a_bounded_share(spans: InMemorySpanExporter) -> None:
    tracepond.configure(max_value_bytes=4096)

    @tracepond.trace
    def chunks() -> Iterator[str]:
        for i in range(50):
            yield str(i) * 1000

    assert sum(len(c) for c in chunks()) > 50_000
    span = only(spans)
    recorded = span.attributes[attr.OUTPUTS]
    assert len(recorded.encode()) <= 4096
    assert span.attributes[attr.TRUNCATED] is True


def test_generator_does_not_hold_a_large_stream_in_memory(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def megabytes() -> Iterator[bytes]:
        for _ in range(100):
            yield bytes(1_000_000)  # a fresh 1 MB chunk each time

    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in megabytes())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 100_000_000
    assert peak < 10_000_000  # a few chunks at most, never the 100 MB stream
    recorded = outputs(only(spans))
    assert recorded[0]["_type"] == "bytes" and recorded[-1].endswith("more items")


async def test_generators_called_with_bad_arguments_end_their_spans(
    spans: InMemorySpanExporter,
) -> None:
    @tracepond.trace
    def sync_gen(a: int) -> Iterator[int]:
        yield a

    @tracepond.trace
    async def async_gen(a: int) -> AsyncIterator[int]:
        yield a

    with pytest.raises(TypeError):
        next(sync_gen(1, 2))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        await async_gen(1, 2).__anext__()  # type: ignore[call-arg]
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == ["sync_gen", "async_gen"]
    assert all(s.status.status_code is StatusCode.ERROR for s in finished)


def test_abandoned_generator_ends_its_span_when_collected(spans: InMemorySpanExporter) -> None:
    @tracepond.trace
    def letters() -> Iterator[str]:
        yield from "abc"

    generator = letters()
    assert next(generator) == "a"
    del generator
    gc.collect()
    span = only(spans)
    assert span.status.status_code is StatusCode.OK
    assert outputs(span) == ["a"]
