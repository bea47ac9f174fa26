"""Stores with known content for the export, import and lake tests.

Spans are made by the real OpenTelemetry SDK with chosen timestamps and written through the
store's own writer (tracepond.store.writer.write_spans), exactly as spans arriving over OTLP are.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from tracepond.conventions import attributes as attr
from tracepond.store.writer import write_spans

UTC = dt.timezone.utc


def ns(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() * 1_000_000) * 1000


@dataclass
class MadeTrace:
    trace_id: str
    root_span_id: str
    spans: list[ReadableSpan]


class SpanFactory:
    """Makes finished SDK spans: a root and LLM children with GenAI attributes and events."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = provider.get_tracer("tests")

    def trace(
        self,
        start: dt.datetime,
        children: int = 2,
        *,
        error: bool = False,
        name: str = "agent",
        provider: str = "openai",
        model: str = "gpt-4o-mini",
        cost_usd: float | None = None,
        child_ms: int = 5,
    ) -> MadeTrace:
        self.exporter.clear()
        root = self.tracer.start_span(
            name,
            start_time=ns(start),
            attributes={attr.SPAN_TYPE: "AGENT", attr.INPUTS: '{"q": 1}'},
        )
        context = otel_trace.set_span_in_context(root)
        for index in range(children):
            begin = start + dt.timedelta(milliseconds=10 * (index + 1))
            attributes: dict[str, str | int | float] = {}
            if cost_usd is not None:
                attributes[attr.COST_USD] = cost_usd * (index + 1)
            child = self.tracer.start_span(
                f"chat {model}",
                context=context,
                kind=SpanKind.CLIENT,
                start_time=ns(begin),
                attributes={
                    **attributes,
                    attr.SPAN_TYPE: "CHAT_MODEL",
                    attr.GEN_AI_OPERATION_NAME: "chat",
                    attr.GEN_AI_PROVIDER_NAME: provider,
                    attr.GEN_AI_REQUEST_MODEL: model,
                    attr.GEN_AI_USAGE_INPUT_TOKENS: 10 + index,
                    attr.GEN_AI_USAGE_OUTPUT_TOKENS: 3,
                    attr.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "content": "hi"}]),
                    attr.OUTPUTS: json.dumps("hello"),
                },
            )
            child.add_event("chunk", {"index": index}, timestamp=ns(begin) + 1000)
            if error and index == children - 1:
                child.set_status(Status(StatusCode.ERROR, "boom"))
            else:
                child.set_status(Status(StatusCode.OK))
            child.end(end_time=ns(begin + dt.timedelta(milliseconds=child_ms)))
        root.set_status(Status(StatusCode.ERROR if error else StatusCode.OK))
        root.end(end_time=ns(start + dt.timedelta(seconds=1)))
        spans = list(self.exporter.get_finished_spans())
        return MadeTrace(
            trace_id=format(root.get_span_context().trace_id, "032x"),
            root_span_id=format(root.get_span_context().span_id, "016x"),
            spans=spans,
        )

    def late_child(self, made: MadeTrace, start: dt.datetime) -> ReadableSpan:
        """A span of an existing trace, arriving after the trace was written."""
        root = next(s for s in made.spans if s.parent is None)
        self.exporter.clear()
        parent = otel_trace.NonRecordingSpan(root.context)
        child = self.tracer.start_span(
            "tool lookup",
            context=otel_trace.set_span_in_context(parent),
            start_time=ns(start),
            attributes={attr.SPAN_TYPE: "TOOL"},
        )
        child.end(end_time=ns(start + dt.timedelta(milliseconds=3)))
        (span,) = self.exporter.get_finished_spans()
        return span


def write(store: str, spans: Sequence[ReadableSpan]) -> int:
    return write_spans(store, list(spans))


def days_of_traces(store: str, days: Sequence[dt.datetime], per_day: int) -> list[MadeTrace]:
    factory = SpanFactory()
    made = []
    for day in days:
        for index in range(per_day):
            made.append(factory.trace(day + dt.timedelta(minutes=index), error=index == 0))
    write(store, [span for trace in made for span in trace.spans])
    return made
