"""Context follows asyncio tasks, copy_context threads and the pool helper; suppression."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tracepond.conventions import attributes as attr
from tracepond.tracing.context import (
    get_active_model_id,
    get_active_run,
    reset_active_run,
    set_active_model_id,
    set_active_run,
)
from tracepond.tracing.suppress import is_suppressed, suppressed


@tracepond.trace
def leaf(i: int) -> int:
    return i


async def test_context_follows_asyncio_tasks(spans: InMemorySpanExporter) -> None:
    async def child(i: int) -> None:
        await asyncio.sleep(0)
        with tracepond.start_span(f"task {i}"):
            await asyncio.sleep(0)

    with tracepond.start_span("root") as root:
        await asyncio.gather(*(asyncio.create_task(child(i)) for i in range(3)))
    finished = spans.get_finished_spans()
    root_id = int(root.span_id, 16)
    tasks = [s for s in finished if s.name.startswith("task")]
    assert len(tasks) == 3
    assert all(s.parent.span_id == root_id for s in tasks)
    assert all(format(s.context.trace_id, "032x") == root.trace_id for s in tasks)


def test_copy_context_thread_nests(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("root") as root:
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(leaf, 1))
        thread.start()
        thread.join()
    (child, _root) = spans.get_finished_spans()
    assert child.parent.span_id == int(root.span_id, 16)


def test_plain_thread_pool_starts_new_traces(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("root"), ThreadPoolExecutor(2) as pool:
        list(pool.map(leaf, range(2)))
    children = [s for s in spans.get_finished_spans() if s.name == "leaf"]
    assert all(s.parent is None for s in children)  # why the helper exists


def test_context_thread_pool_executor_nests(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("root") as root, tracepond.ContextThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(leaf, range(4))) == [0, 1, 2, 3]
        assert pool.submit(leaf, 9).result() == 9
    children = [s for s in spans.get_finished_spans() if s.name == "leaf"]
    assert len(children) == 5
    assert all(s.parent.span_id == int(root.span_id, 16) for s in children)


def test_pool_copies_context_at_each_submit(spans: InMemorySpanExporter) -> None:
    with tracepond.ContextThreadPoolExecutor(1) as pool:
        with tracepond.start_span("a") as a:
            first = pool.submit(leaf, 1)
        with tracepond.start_span("b") as b:
            second = pool.submit(leaf, 2)
        first.result()
        second.result()
    by_input = {
        s.attributes[attr.INPUTS]: s.parent.span_id
        for s in spans.get_finished_spans()
        if s.name == "leaf"
    }
    assert by_input == {'{"i":1}': int(a.span_id, 16), '{"i":2}': int(b.span_id, 16)}


def test_wrap_with_context(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("root") as root:
        wrapped = tracepond.wrap_with_context(leaf)
    thread = threading.Thread(target=wrapped, args=(5,))
    thread.start()
    thread.join()
    assert wrapped.__name__ == "leaf"
    child = next(s for s in spans.get_finished_spans() if s.name == "leaf")
    assert child.parent.span_id == int(root.span_id, 16)


def test_active_run_and_model_follow_the_pool(spans: InMemorySpanExporter) -> None:
    token = set_active_run("run-7", "exp-2")
    set_active_model_id("model-3")  # this test's context only
    try:
        with tracepond.ContextThreadPoolExecutor(1) as pool:
            assert pool.submit(get_active_run).result() == ("run-7", "exp-2")
            assert pool.submit(get_active_model_id).result() == "model-3"
            pool.submit(leaf, 1).result()
    finally:
        reset_active_run(token)
        set_active_model_id(None)
    (span,) = spans.get_finished_spans()
    assert span.attributes[attr.RUN_ID] == "run-7"
    assert span.attributes[attr.MODEL_ID] == "model-3"
    assert get_active_run() is None


def test_suppression() -> None:
    assert not is_suppressed()
    with suppressed():
        assert is_suppressed()
        with suppressed():
            assert is_suppressed()
        assert is_suppressed()
    assert not is_suppressed()


def test_opentelemetry_suppression_key_counts() -> None:
    token = otel_context.attach(
        otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True)
    )
    try:
        assert is_suppressed()
    finally:
        otel_context.detach(token)
    assert not is_suppressed()


def test_suppression_survives_an_exception() -> None:
    try:
        with suppressed():
            raise LookupError("x")
    except LookupError:
        pass
    assert not is_suppressed()


async def test_asyncio_to_thread_nests(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("root") as root:
        assert await asyncio.to_thread(leaf, 4) == 4
        loop = asyncio.get_running_loop()
        with tracepond.ContextThreadPoolExecutor(1) as pool:
            assert await loop.run_in_executor(pool, leaf, 5) == 5
    children = [s for s in spans.get_finished_spans() if s.name == "leaf"]
    assert len(children) == 2
    assert all(s.parent.span_id == int(root.span_id, 16) for s in children)
