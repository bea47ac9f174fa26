"""The one table of other conventions' names: which name wins, and what is ignored, seen
through the store's conversion of a real SDK span (tracepond.store.rows.span_record)."""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracepond.conventions.mapping import COLUMN_SOURCES, MAPPED_ATTRIBUTES
from tracepond.store.rows import S, span_record


def record(attributes: dict[str, Any], events: list[tuple[str, dict[str, Any]]] = ()) -> Any:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("s", attributes=attributes) as span:
        for name, event_attributes in events:
            span.add_event(name, event_attributes)
    (finished,) = exporter.get_finished_spans()
    return span_record(finished, is_root=True).row


def test_current_names_win_over_older_and_openinference() -> None:
    row = record(
        {
            "gen_ai.provider.name": "openai",
            "gen_ai.system": "azure.ai.openai",
            "llm.provider": "other",
            "gen_ai.usage.input_tokens": 5,
            "gen_ai.usage.prompt_tokens": 50,
            "llm.token_count.prompt": 500,
            "gen_ai.request.model": "gpt-4o",
            "llm.model_name": "not-this",
            "gen_ai.operation.name": "chat",
            "openinference.span.kind": "AGENT",
        }
    )
    assert row[S["provider"]] == "openai" and row[S["input_tokens"]] == 5
    assert row[S["model"]] == "gpt-4o" and row[S["span_type"]] == "CHAT_MODEL"


def test_values_that_are_not_numbers_leave_tokens_empty() -> None:
    row = record({"llm.token_count.prompt": "many", "llm.token_count.completion": True})
    assert row[S["input_tokens"]] is None and row[S["output_tokens"]] is None


def test_unknown_kinds_and_untyped_spans_are_unknown() -> None:
    assert record({"openinference.span.kind": "UNKNOWN"})[S["span_type"]] == "UNKNOWN"
    assert record({"traceloop.span.kind": "something-new"})[S["span_type"]] == "UNKNOWN"
    assert record({"openinference.span.kind": "retriever"})[S["span_type"]] == "RETRIEVER"
    assert record({"traceloop.span.kind": "workflow"})[S["span_type"]] == "CHAIN"


OPENINFERENCE_TOOL_CALL = {
    "llm.input_messages.0.message.tool_calls.0.tool_call.function.name": "lookup"
}


def test_indexed_messages_keep_their_order_and_skip_malformed_keys() -> None:
    row = record(
        {
            "llm.request.type": "chat",
            "gen_ai.prompt.10.content": "tenth",
            "gen_ai.prompt.2.content": "second",
            "gen_ai.prompt.x.content": "not an index",
            "gen_ai.prompt.3": "no field",
            **OPENINFERENCE_TOOL_CALL,
        }
    )
    # two families fill `inputs`: the gen_ai one is listed first in the table, so it wins
    assert orjson.loads(row[S["inputs"]]) == [{"content": "second"}, {"content": "tenth"}]
    row = record({"llm.request.type": "chat", **{k: v for k, v in OPENINFERENCE_TOOL_CALL.items()}})
    assert orjson.loads(row[S["inputs"]]) == [{"tool_calls.0.tool_call.function.name": "lookup"}]


def test_content_of_spans_that_are_not_model_calls_is_not_searched_for() -> None:
    row = record({"gen_ai.prompt.0.content": "hi"})  # no model span type: an app's own key
    assert row[S["inputs"]] is None
    assert orjson.loads(row[S["attributes"]]) == {"gen_ai.prompt.0.content": "hi"}


def test_other_conventions_content_stays_in_attributes_as_recorded() -> None:
    row = record({"input.value": '{"q": 1}', "openinference.span.kind": "CHAIN"})
    assert orjson.loads(row[S["inputs"]]) == {"q": 1}
    assert orjson.loads(row[S["attributes"]])["input.value"] == '{"q": 1}'


def test_every_column_of_the_table_is_a_store_column() -> None:
    from tracepond.store.rows import SPAN_COLUMNS

    assert set(COLUMN_SOURCES) <= {name for name, _ in SPAN_COLUMNS}
    assert "llm.model_name" in MAPPED_ATTRIBUTES
