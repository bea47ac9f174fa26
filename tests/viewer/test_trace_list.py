"""The windowed newest-first page equals the page a full scan gives (search_traces as oracle)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tracepond.store.query import search_traces
from tracepond.store.writer import write_spans
from tracepond.viewer.trace_list import TraceListQuery, count_traces, list_traces

HOUR = 3600 * 1_000_000_000
# 400 traces, newest first, spaced further apart the older they are (minutes to months), so the
# newest-first windows (the k newest traces, then wider cutoffs) all come into play.
AGES_H = [0.01 * index * (1 + index / 40) for index in range(400)]


def model_of(index: int) -> str:
    if index % 97 == 5:
        return "rare-model"  # 4 traces, far apart: needs the widest windows
    return "gpt-4o" if index % 3 == 0 else "gpt-4o-mini"


@pytest.fixture(scope="module")
def aged_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("aged") / "aged.duckdb")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("aged")
    now = time.time_ns()
    for index, age in enumerate(AGES_H):
        start = now - int(age * HOUR)
        root = tracer.start_span(f"job {index}", start_time=start)
        model = model_of(index)
        child = tracer.start_span(
            f"chat {model}",
            context=otel_trace.set_span_in_context(root),
            start_time=start + 1000,
            attributes={"gen_ai.request.model": model},
        )
        if index % 4 == 0:
            child.set_status(Status(StatusCode.ERROR, "boom"))
        child.end(end_time=start + 2000)
        root.end(end_time=start + 3000)
    write_spans(path, exporter.get_finished_spans())
    return path


FILTERS = [
    "",
    "span.model = 'gpt-4o'",
    "span.status = 'ERROR'",
    "span.model = 'gpt-4o' and name != 'job 0'",
    "name = 'nothing matches'",
]


@pytest.mark.parametrize("text", FILTERS)
@pytest.mark.parametrize(
    "limit,offset", [(1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (50, 0), (2, 6), (20, 100)]
)
def test_windowed_page_equals_full_scan(
    aged_store: str, text: str, limit: int, offset: int
) -> None:
    expected = [
        t.trace_id
        for t in search_traces(
            filter=text or None,
            order_by=["start_time DESC", "trace_id DESC"],
            max_results=limit,
            offset=offset,
            store=aged_store,
            include_spans=False,
        )
    ]
    page = list_traces(aged_store, TraceListQuery(filter=text, limit=limit, offset=offset))
    assert [t["trace_id"] for t in page["traces"]] == expected
    matched = count_traces(aged_store, TraceListQuery(filter=text))
    assert page["has_more"] == (offset + limit < matched)


def test_other_orders_scan_everything(aged_store: str) -> None:
    oldest = list_traces(aged_store, TraceListQuery(descending=False, limit=3))
    assert [t["name"] for t in oldest["traces"]] == ["job 399", "job 398", "job 397"]


def test_models_come_with_each_trace(aged_store: str, tmp_path: Path) -> None:
    page = list_traces(aged_store, TraceListQuery(limit=3))
    assert [t["models"] for t in page["traces"]] == [[model_of(0)], [model_of(1)], [model_of(2)]]
