"""Spans written by the DuckDB span processor: rows, trace roll-ups across batches, idempotency."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

import tracepond
from tests.store.conftest import Pipeline, make_pipeline
from tracepond.conventions import attributes as attr
from tracepond.store.writer import write_spans


def _rows(store: str, query: str) -> list[tuple[object, ...]]:
    return tracepond.sql(query, store=store).fetchall()


def test_a_trace_is_rolled_up_from_its_spans(pipeline: Pipeline) -> None:
    tracer = pipeline.tracer
    with tracer.start_as_current_span(
        "answer",
        attributes={
            attr.INPUTS: '{"question": "why?"}',
            attr.SPAN_TYPE: "CHAIN",
            attr.SESSION_ID: "s1",
            attr.USER_ID: "u1",
            attr.RUN_ID: "run-1",
        },
    ) as root:
        for model, tokens in (("gpt-4o-mini", (10, 5)), ("gpt-4o", (7, 3))):
            with tracer.start_as_current_span(
                f"chat {model}",
                attributes={
                    attr.GEN_AI_OPERATION_NAME: "chat",
                    attr.GEN_AI_PROVIDER_NAME: "openai",
                    attr.GEN_AI_REQUEST_MODEL: model,
                    attr.GEN_AI_RESPONSE_MODEL: model + "-2024",
                    attr.GEN_AI_USAGE_INPUT_TOKENS: tokens[0],
                    attr.GEN_AI_USAGE_OUTPUT_TOKENS: tokens[1],
                    attr.COST_USD: 0.25,
                },
            ):
                pass
        root.set_attribute(attr.OUTPUTS, '"because"')
        root.set_status(Status(StatusCode.OK))
    pipeline.flush()

    (trace_row,) = _rows(
        pipeline.store,
        "SELECT name, status, span_count, input_tokens, output_tokens, cost_usd, session_id, "
        "user_id, run_id, inputs, outputs, in_progress, error_count, service_name FROM traces",
    )
    assert trace_row == (
        "answer",
        "OK",
        3,
        17,
        8,
        0.5,
        "s1",
        "u1",
        "run-1",
        '{"question": "why?"}',
        '"because"',
        False,
        0,
        "store-tests",
    )
    spans = _rows(
        pipeline.store,
        "SELECT name, span_type, provider, model, response_model, input_tokens, kind, status "
        "FROM spans ORDER BY start_time",
    )
    assert spans == [  # model: what was asked for; response_model: what answered
        ("answer", "CHAIN", None, None, None, None, "INTERNAL", "OK"),
        (
            "chat gpt-4o-mini",
            "CHAT_MODEL",
            "openai",
            "gpt-4o-mini",
            "gpt-4o-mini-2024",
            10,
            "INTERNAL",
            "UNSET",
        ),
        ("chat gpt-4o", "CHAT_MODEL", "openai", "gpt-4o", "gpt-4o-2024", 7, "INTERNAL", "UNSET"),
    ]
    (attributes,) = _rows(
        pipeline.store, "SELECT attributes FROM spans WHERE name = 'chat gpt-4o'"
    )[0]
    assert orjson.loads(str(attributes))[attr.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    root_attributes = orjson.loads(
        str(_rows(pipeline.store, "SELECT attributes FROM spans WHERE name = 'answer'")[0][0])
    )
    assert attr.INPUTS not in root_attributes  # it has a column of its own


def test_ids_are_lowercase_hex_of_otel_width(pipeline: Pipeline) -> None:
    with pipeline.tracer.start_as_current_span("x") as span:
        context = span.get_span_context()
    pipeline.flush()
    (row,) = _rows(pipeline.store, "SELECT trace_id, span_id FROM spans")
    assert row == (format(context.trace_id, "032x"), format(context.span_id, "016x"))


def test_provider_falls_back_to_gen_ai_system_and_model_to_the_request(pipeline: Pipeline) -> None:
    with pipeline.tracer.start_as_current_span(
        "embed",
        attributes={
            attr.GEN_AI_SYSTEM: "aws.bedrock",
            attr.GEN_AI_REQUEST_MODEL: "titan",
            attr.GEN_AI_OPERATION_NAME: "embeddings",
        },
    ):
        pass
    with pipeline.tracer.start_as_current_span("plain"):
        pass
    pipeline.flush()
    assert _rows(pipeline.store, "SELECT provider, model, span_type FROM spans ORDER BY name") == [
        ("aws.bedrock", "titan", "EMBEDDING"),
        (None, None, "UNKNOWN"),
    ]


def test_a_trace_split_over_batches_stays_consistent(pipeline: Pipeline) -> None:
    tracer = pipeline.tracer
    with tracer.start_as_current_span("root", attributes={attr.TAGS: '{"a": 1}'}):
        with tracer.start_as_current_span(
            "step-1", attributes={attr.GEN_AI_USAGE_INPUT_TOKENS: 4, attr.TAGS: '{"env": "dev"}'}
        ):
            pass
        pipeline.flush()  # batch 1: the root's start and step-1
        (in_progress,) = _rows(
            pipeline.store, "SELECT name, in_progress, span_count, status FROM traces"
        )
        assert in_progress == ("root", True, 1, "UNSET")
        with tracer.start_as_current_span(
            "step-2", attributes={attr.GEN_AI_USAGE_INPUT_TOKENS: 6}
        ) as step:
            step.set_attribute(attr.TAGS, '{"env": "prod"}')
            step.set_status(Status(StatusCode.ERROR, "boom"))
        pipeline.flush()  # batch 2: step-2
    pipeline.flush()  # batch 3: the root

    (row,) = _rows(
        pipeline.store,
        "SELECT name, in_progress, span_count, input_tokens, error_count, status, tags FROM traces",
    )
    assert row[:6] == ("root", False, 3, 10, 1, "UNSET")
    assert orjson.loads(str(row[6])) == {"env": "prod", "a": 1}  # merged, later wins
    assert _rows(pipeline.store, "SELECT count(*) FROM traces") == [(1,)]


def test_a_root_that_never_ends_leaves_a_visible_in_progress_trace(pipeline: Pipeline) -> None:
    tracer = pipeline.tracer
    root = tracer.start_span("never ends")
    with tracer.start_as_current_span("child", context=otel_trace.set_span_in_context(root)):
        pass
    pipeline.flush()
    trace_id = format(root.get_span_context().trace_id, "032x")
    found = tracepond.get_trace(trace_id, store=pipeline.store)
    assert found is not None
    assert found.info.in_progress and found.info.name == "never ends"
    assert [span.name for span in found.spans] == ["child"]
    assert (
        tracepond.search_traces("in_progress = TRUE", store=pipeline.store)[0].trace_id == trace_id
    )


def test_the_same_span_written_twice_is_stored_once(store_path: Path) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with (
        tracer.start_as_current_span("root"),
        tracer.start_as_current_span("llm", attributes={attr.GEN_AI_USAGE_INPUT_TOKENS: 5}),
    ):
        pass
    spans = exporter.get_finished_spans()

    assert write_spans(str(store_path), spans) == 2
    assert write_spans(str(store_path), spans) == 0  # an OTLP retry: nothing new
    assert write_spans(str(store_path), [spans[0], spans[0]]) == 0
    store = str(store_path)
    assert _rows(store, "SELECT count(*) FROM spans") == [(2,)]
    assert _rows(store, "SELECT span_count, input_tokens, name FROM traces") == [(2, 5, "root")]


def test_children_written_after_the_root_are_counted(store_path: Path) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"):
        for index in range(3):
            with tracer.start_as_current_span(
                f"c{index}", attributes={attr.GEN_AI_USAGE_OUTPUT_TOKENS: 1}
            ):
                pass
    child_0, child_1, child_2, root = exporter.get_finished_spans()
    store = str(store_path)
    write_spans(store, [root])
    write_spans(store, [child_2, child_0])
    write_spans(store, [child_1, child_0])
    assert _rows(store, "SELECT name, span_count, output_tokens, in_progress FROM traces") == [
        ("root", 4, 3, False)
    ]


def test_exceptions_become_span_events(pipeline: Pipeline) -> None:
    with pytest.raises(RuntimeError), pipeline.tracer.start_as_current_span("fails"):
        raise RuntimeError("no luck")
    pipeline.flush()
    (event,) = _rows(pipeline.store, "SELECT name, attributes FROM span_events")
    assert event[0] == "exception"
    recorded = orjson.loads(str(event[1]))
    assert recorded["exception.type"] == "RuntimeError"
    assert recorded["exception.message"] == "no luck"
    assert _rows(pipeline.store, "SELECT status, status_message FROM spans") == [
        ("ERROR", "RuntimeError: no luck")
    ]
    assert _rows(pipeline.store, "SELECT status, error_count FROM traces") == [("ERROR", 1)]


def test_a_10_mb_output_is_stored_whole(pipeline: Pipeline) -> None:
    big = "x" * (10 * 1024 * 1024)
    with pipeline.tracer.start_as_current_span("big") as span:
        span.set_attribute(attr.OUTPUTS, orjson.dumps({"text": big}).decode())
    with pipeline.tracer.start_as_current_span("after"):
        pass
    pipeline.flush()
    trace_id = format(span.get_span_context().trace_id, "032x")
    found = tracepond.get_trace(trace_id, store=pipeline.store)
    assert found is not None and found.spans[0].outputs == {"text": big}
    assert found.info.outputs == {"text": big}
    assert _rows(pipeline.store, "SELECT count(*) FROM spans") == [(2,)]  # the batch landed whole


def test_inputs_that_are_not_json_are_kept_as_json_strings(pipeline: Pipeline) -> None:
    with pipeline.tracer.start_as_current_span("raw", attributes={attr.INPUTS: "plain text {"}):
        pass
    pipeline.flush()
    assert _rows(pipeline.store, "SELECT inputs FROM spans") == [('"plain text {"',)]


def test_a_span_under_the_apps_own_span_is_the_root_of_its_trace(pipeline: Pipeline) -> None:
    app_provider = TracerProvider(shutdown_on_exit=False)  # the app's own, not tracepond's
    with (
        app_provider.get_tracer("app").start_as_current_span("GET /ask") as request_span,
        pipeline.tracer.start_as_current_span("handler"),
        pipeline.tracer.start_as_current_span("llm"),
    ):
        pass
    pipeline.flush()
    (row,) = _rows(pipeline.store, "SELECT trace_id, name, in_progress, span_count FROM traces")
    assert row == (format(request_span.get_span_context().trace_id, "032x"), "handler", False, 2)


def test_spans_dropped_when_the_queue_is_full_are_counted_in_the_store(store_path: Path) -> None:
    made = make_pipeline(store_path, queue_size=5, batch_size=5)
    # The writer cannot keep up with a burst while it waits for a lock this process holds.
    from tracepond.store.connection import _path_lock

    lock = _path_lock(str(store_path.absolute()))
    with lock:
        for index in range(20):
            with made.tracer.start_as_current_span(f"s{index}"):
                pass
    made.flush()
    assert made.processor.dropped >= 15 - 5
    counts = tracepond.store.query.dropped_span_counts(store=str(store_path))
    assert counts == {"duckdb": made.processor.dropped}
    written = _rows(str(store_path), "SELECT count(*) FROM spans")[0][0]
    assert written + made.processor.dropped == 20
    made.provider.shutdown()
