"""The span writer links prompt versions to traces from the ``tracepond.prompts`` attribute,
whoever sent the spans (this process, another one, an OTLP exporter), and never twice."""

from __future__ import annotations

from pathlib import Path

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracepond.conventions import attributes as attr
from tracepond.store.query import sql
from tracepond.store.writer import write_spans


def _spans() -> tuple[list[object], str, str]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("links")
    with tracer.start_as_current_span("root") as root:
        root.set_attribute(attr.PROMPTS, ["support/1"])
        with tracer.start_as_current_span("chat") as chat:
            chat.set_attribute(attr.PROMPTS, ["support/1", "billing/3"])
        with tracer.start_as_current_span("plain"):
            pass
    trace_id = format(root.get_span_context().trace_id, "032x")
    return (
        list(exporter.get_finished_spans()),
        trace_id,
        format(chat.get_span_context().span_id, "016x"),
    )


def _links(store: str) -> list[tuple[object, ...]]:
    return sql(
        "SELECT trace_id, name, version FROM trace_prompts ORDER BY name", store=store
    ).fetchall()


def test_spans_that_loaded_prompts_link_their_trace_once(store_path: Path) -> None:
    spans, trace_id, chat_id = _spans()
    store = str(store_path)
    assert write_spans(store, spans) == 3
    assert _links(store) == [(trace_id, "billing", 3), (trace_id, "support", 1)]
    loader = sql("SELECT span_id FROM trace_prompts WHERE name = 'billing'", store=store).fetchall()
    assert loader == [(chat_id,)]
    assert write_spans(store, spans) == 0  # a replayed batch (an OTLP retry) links nothing again
    assert write_spans(store, spans[:1]) == 0
    assert _links(store) == [(trace_id, "billing", 3), (trace_id, "support", 1)]


def test_a_link_already_stored_is_not_written_again_by_a_later_batch(store_path: Path) -> None:
    spans, trace_id, _ = _spans()
    store = str(store_path)
    write_spans(store, spans[:1])  # the chat span: support/1 and billing/3
    write_spans(store, spans[1:])  # later spans of the same trace load support/1 again
    assert _links(store) == [(trace_id, "billing", 3), (trace_id, "support", 1)]


def test_entries_that_are_not_name_and_version_are_ignored(store_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("x").start_as_current_span("odd") as span:
        span.set_attribute(attr.PROMPTS, ["no-version", "a/b", "/3", "ok/2"])
    write_spans(str(store_path), exporter.get_finished_spans())
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert _links(str(store_path)) == [(trace_id, "ok", 2)]
    assert otel_trace.get_current_span() is otel_trace.INVALID_SPAN
