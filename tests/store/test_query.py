"""search_traces (the filter language), get_trace and sql()."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Status, StatusCode

import tracepond
from tests.store.conftest import Pipeline, file_digest, make_pipeline
from tracepond.conventions import attributes as attr
from tracepond.errors import QueryError, StoreError
from tracepond.store.query import SqlResult, dropped_span_counts
from tracepond.store.writer import write_spans

T0 = int(dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc).timestamp() * 1e9)
SECOND = 1_000_000_000

# name, status, root attributes, child model, child tokens (in, out), offset s, duration ms
TRACES: list[tuple[str, str, dict[str, Any], str, tuple[int, int], int, int]] = [
    (
        "alpha",
        "OK",
        {attr.TAGS: '{"env": "prod", "team": "a"}', attr.RUN_ID: "r1", attr.SESSION_ID: "s1"},
        "gpt-4o-mini",
        (10, 1),
        0,
        100,
    ),
    (
        "beta",
        "ERROR",
        {attr.TAGS: '{"env": "dev"}', attr.EXPERIMENT_ID: "e1"},
        "gpt-4o",
        (20, 2),
        1,
        200,
    ),
    ("gamma", "OK", {attr.MODEL_ID: "m1"}, "llama-3.1-8b", (30, 3), 2, 300),
    (
        "delta",
        "ERROR",
        {attr.TAGS: '{"env": "prod"}', attr.RUN_ID: "r1"},
        "gpt-4o-mini",
        (40, 4),
        3,
        400,
    ),
    ("O'Brien", "OK", {attr.METADATA: '{"k": "v"}'}, "gpt-4o", (50, 5), 4, 500),
    ("Ünïcode", "UNSET", {}, "claude", (60, 6), 5, 600),
]


def _add_trace(
    pipe: Pipeline, spec: tuple[str, str, dict[str, Any], str, tuple[int, int], int, int]
) -> str:
    name, status, attributes, model, tokens, offset, duration_ms = spec
    start = T0 + offset * SECOND
    root = pipe.tracer.start_span(name, start_time=start, attributes=attributes)
    context = otel_trace.set_span_in_context(root)
    child = pipe.tracer.start_span(
        f"chat {model}",
        context=context,
        start_time=start + 1000,
        attributes={
            attr.GEN_AI_OPERATION_NAME: "chat",
            attr.GEN_AI_REQUEST_MODEL: model,
            attr.GEN_AI_PROVIDER_NAME: "groq" if model.startswith("llama") else "openai",
            attr.GEN_AI_USAGE_INPUT_TOKENS: tokens[0],
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: tokens[1],
        },
    )
    child.end(end_time=start + duration_ms * 500_000)
    if status != "UNSET":
        root.set_status(Status(StatusCode[status]))
    root.end(end_time=start + duration_ms * 1_000_000)
    return format(root.get_span_context().trace_id, "032x")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("query") / "q.duckdb"
    pipe = make_pipeline(path)
    for spec in TRACES:
        _add_trace(pipe, spec)
    pipe.flush()
    pipe.provider.shutdown()
    return str(path)


def names(filter_: str | None, store: str, **kwargs: Any) -> list[str]:
    return [t.info.name or "" for t in tracepond.search_traces(filter_, store=store, **kwargs)]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        (None, ["Ünïcode", "O'Brien", "delta", "gamma", "beta", "alpha"]),
        ("status = 'ERROR'", ["delta", "beta"]),
        ("status != 'ERROR'", ["Ünïcode", "O'Brien", "gamma", "alpha"]),
        ("duration_ms > 300", ["Ünïcode", "O'Brien", "delta"]),
        ("duration_ms >= 300", ["Ünïcode", "O'Brien", "delta", "gamma"]),
        ("duration_ms < 200", ["alpha"]),
        ("duration_ms <= 200.0", ["beta", "alpha"]),
        ("input_tokens = 30", ["gamma"]),
        ("name LIKE 'a%'", ["alpha"]),
        ("name ILIKE 'A%'", ["alpha"]),
        ("name NOT LIKE '%a'", ["Ünïcode", "O'Brien"]),
        ("name IN ('alpha', 'gamma')", ["gamma", "alpha"]),
        ("name NOT IN ('alpha', 'gamma', 'beta', 'delta')", ["Ünïcode", "O'Brien"]),
        ("name = 'O''Brien'", ["O'Brien"]),
        ('name = "Ünïcode"', ["Ünïcode"]),
        ("tags.env = 'prod'", ["delta", "alpha"]),
        ("tags.team = 'a' AND tags.env = 'prod'", ["alpha"]),
        ("tags.env IS NULL", ["Ünïcode", "O'Brien", "gamma"]),
        ("metadata.k = 'v'", ["O'Brien"]),
        ("span.model = 'gpt-4o-mini'", ["delta", "alpha"]),
        ("span.provider = 'groq'", ["gamma"]),
        ("span.span_type = 'CHAT_MODEL' AND span.input_tokens > 45", ["Ünïcode", "O'Brien"]),
        ("span.attributes.gen_ai.request.model = 'claude'", ["Ünïcode"]),
        ("status = 'ERROR' and span.model = 'gpt-4o-mini'", ["delta"]),
        ("status = 'ERROR' OR name = 'gamma'", ["delta", "gamma", "beta"]),
        ("(status = 'ERROR' OR name = 'gamma') AND duration_ms > 250", ["delta", "gamma"]),
        ("status = 'OK' AND (tags.env = 'prod' OR span.provider = 'groq')", ["gamma", "alpha"]),
        ("start_time >= '2026-01-01 12:00:04'", ["Ünïcode", "O'Brien"]),
        ("run_id = 'r1'", ["delta", "alpha"]),
        (
            "in_progress = FALSE AND span_count = 2",
            ["Ünïcode", "O'Brien", "delta", "gamma", "beta", "alpha"],
        ),
        ("trace.name = 'beta'", ["beta"]),
        ("tags.`env` = 'dev'", ["beta"]),
    ],
)
def test_filter_language(store: str, filter_: str | None, expected: list[str]) -> None:
    assert names(filter_, store) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        "x' OR '1'='1",
        "'; DROP TABLE traces; --",
        "alpha') OR (1=1",
        "\\' OR 1=1 --",
    ],
)
def test_values_are_never_sql(store: str, hostile: str) -> None:
    before = file_digest(store)
    quoted = "'" + hostile.replace("'", "''") + "'"
    assert names(f"name = {quoted}", store) == []
    assert names(f"tags.env = {quoted}", store) == []
    assert names(f"span.model IN ({quoted}, 'nothing')", store) == []
    assert file_digest(store) == before
    assert len(names(None, store)) == 6


@pytest.mark.parametrize(
    ("filter_", "token", "position"),
    [
        ("statsu = 'OK'", "'statsu'", 0),
        ("status = 'OK' AND span.modle = 'x'", "'span.modle'", 18),
        ("status = ", "the end of the filter", 9),
        ("status == 'OK'", "'='", 8),
        ("status = 'OK' AND", "the end of the filter", 17),
        ("(status = 'OK'", "the end of the filter", 14),
        ("status = 'OK'; DELETE FROM traces", "';'", 13),
        ("duration_ms > 'slow'", "\"'slow'\"", 14),
        ("name IN 'a'", "\"'a'\"", 8),
        ("status 'OK'", "\"'OK'\"", 7),
        ("duration_ms LIKE 'a%'", "\"'a%'\"", 17),
        ("status = OK", "'OK'", 9),
    ],
)
def test_malformed_filters_name_the_token_and_position(
    store: str, filter_: str, token: str, position: int
) -> None:
    with pytest.raises(QueryError) as raised:
        tracepond.search_traces(filter_, store=store)
    message = str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert f"position {position}" in message, message
    assert token in message, message


def test_a_misspelled_field_gets_a_suggestion(store: str) -> None:
    with pytest.raises(ValueError, match="did you mean 'status'"):
        tracepond.search_traces("statsu = 'OK'", store=store)
    with pytest.raises(ValueError, match=r"did you mean 'span\.model'"):
        tracepond.search_traces("span.modle = 'x'", store=store)
    with pytest.raises(ValueError, match="did you mean 'duration_ms'"):
        tracepond.search_traces(order_by=["duraton_ms DESC"], store=store)


def test_order_by_max_results_and_pages(store: str) -> None:
    assert names(None, store, order_by=["start_time ASC"]) == [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "O'Brien",
        "Ünïcode",
    ]
    assert names(None, store, order_by=["status ASC", "duration_ms DESC"]) == [
        "delta",
        "beta",
        "O'Brien",
        "gamma",
        "alpha",
        "Ünïcode",
    ]
    assert names(None, store, max_results=2) == ["Ünïcode", "O'Brien"]
    pages = [names(None, store, max_results=4, offset=offset) for offset in (0, 4, 8)]
    assert pages == [["Ünïcode", "O'Brien", "delta", "gamma"], ["beta", "alpha"], []]
    for bad in (0, -1, "10", True):
        with pytest.raises(QueryError, match="max_results"):
            tracepond.search_traces(max_results=bad, store=store)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="order_by"):
        tracepond.search_traces(order_by=["start_time; DROP TABLE traces"], store=store)


def test_run_experiment_and_model_scopes(store: str) -> None:
    assert names(None, store, run_id="r1") == ["delta", "alpha"]
    assert names(None, store, experiment="e1") == ["beta"]
    assert names(None, store, model_id="m1") == ["gamma"]
    assert names("status = 'ERROR'", store, run_id="r1") == ["delta"]


def test_results_carry_info_and_span_trees(store: str) -> None:
    (beta,) = tracepond.search_traces("name = 'beta'", store=store)
    assert beta.info.status == "ERROR"
    assert beta.info.tags == {"env": "dev"}
    assert (beta.info.input_tokens, beta.info.output_tokens, beta.info.span_count) == (20, 2, 2)
    assert beta.info.duration_ms == 200.0
    assert beta.info.start_time == dt.datetime(2026, 1, 1, 12, 0, 1, tzinfo=dt.timezone.utc)
    assert [s.name for s in beta.spans] == ["beta", "chat gpt-4o"]
    assert beta.spans[1].parent_span_id == beta.spans[0].span_id
    assert beta.spans[1].model == "gpt-4o" and beta.spans[1].span_type == "CHAT_MODEL"


def test_pandas_results(store: str) -> None:
    frame = tracepond.search_traces("status = 'ERROR'", store=store, return_type="pandas")
    assert list(frame["name"]) == ["delta", "beta"]
    assert {"trace_id", "status", "duration_ms", "tags", "spans"} <= set(frame.columns)
    with pytest.raises(QueryError, match="return_type"):
        tracepond.search_traces(store=store, return_type="polars")  # type: ignore[arg-type]


def test_get_trace_returns_the_tree_parents_first(store_path: Path) -> None:
    pipe = make_pipeline(store_path)
    tracer = pipe.tracer
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("a"):
            with tracer.start_as_current_span("a.1"):
                pass
            with tracer.start_as_current_span("a.2"):
                pass
        with tracer.start_as_current_span("b"):
            pass
    pipe.flush()
    trace_id = format(root.get_span_context().trace_id, "032x")
    found = tracepond.get_trace(trace_id, store=str(store_path))
    assert found is not None
    assert [s.name for s in found.spans] == ["root", "a", "a.1", "a.2", "b"]
    assert [(depth, s.name) for depth, s in found.span_tree()] == [
        (0, "root"),
        (1, "a"),
        (2, "a.1"),
        (2, "a.2"),
        (1, "b"),
    ]
    as_dict = found.to_dict()
    assert as_dict["info"]["trace_id"] == trace_id
    assert orjson.loads(found.to_json())["spans"][2]["name"] == "a.1"
    assert "<table" in found._repr_html_()
    assert tracepond.get_trace(trace_id.upper(), store=str(store_path)) is not None
    pipe.provider.shutdown()


def test_an_unknown_trace_id_is_none(store: str) -> None:
    assert tracepond.get_trace("0" * 32, store=store) is None
    assert tracepond.get_trace("not-a-trace-id", store=store) is None
    with pytest.raises(QueryError):
        tracepond.get_trace(12345, store=store)  # type: ignore[arg-type]


# --- sql() ---------------------------------------------------------------------------------------


def test_sql_result_shapes(store: str) -> None:
    result = tracepond.sql(
        "SELECT model, sum(output_tokens) AS out FROM spans WHERE model IS NOT NULL "
        "GROUP BY model ORDER BY model",
        store=store,
    )
    assert isinstance(result, SqlResult)
    assert result.columns == ["model", "out"]
    assert result.fetchall() == [
        ("claude", 6),
        ("gpt-4o", 7),
        ("gpt-4o-mini", 5),
        ("llama-3.1-8b", 3),
    ]
    assert list(result.df()["out"]) == [6, 7, 5, 3]
    assert result.arrow().num_rows == 4
    text = repr(result)
    assert "model" in text and "gpt-4o-mini" in text and "(4 rows)" in text
    assert tracepond.sql("SELECT ? + 1 AS n", [41], store=store).fetchall() == [(42,)]


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("INSERT INTO traces (trace_id) VALUES ('x')", "read-only"),
        ("UPDATE traces SET name = 'x'", "read-only"),
        ("DELETE FROM spans", "read-only"),
        ("DROP TABLE traces", "read-only"),
        ("CREATE TABLE evil AS SELECT 1", "read-only"),
        ("ALTER TABLE traces ADD COLUMN evil INT", "read-only"),
        ("ATTACH '/tmp/tracepond-evil.duckdb' AS evil", "files"),
        ("COPY traces TO '/tmp/tracepond-evil.csv'", "files"),
        ("SELECT * FROM read_csv('/etc/passwd')", "files"),
        ("INSTALL httpfs", "files"),
        ("LOAD httpfs", "extensions"),
        ("SET enable_external_access = true", "settings"),
        ("SET threads = 1", "settings"),
        ("CHECKPOINT; DELETE FROM traces", "read-only"),
    ],
)
def test_sql_refuses_what_is_not_a_read(store: str, statement: str, reason: str) -> None:
    before = file_digest(store)
    with pytest.raises(QueryError, match=reason):
        tracepond.sql(statement, store=store)
    assert file_digest(store) == before
    assert not Path("/tmp/tracepond-evil.csv").exists()
    assert not Path("/tmp/tracepond-evil.duckdb").exists()
    assert tracepond.sql("SELECT count(*) FROM traces", store=store).fetchall() == [(6,)]


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TEMP VIEW traces AS SELECT * FROM main.traces WHERE false",
        "CREATE TEMP MACRO lower(x) AS 'shadowed'",
        "CREATE TEMP TABLE spans AS SELECT 1 AS nothing",
        "SET search_path = 'temp'",
        "BEGIN TRANSACTION",
    ],
)
def test_no_query_leaves_state_for_the_next(store: str, statement: str) -> None:
    before = file_digest(store)
    with contextlib.suppress(QueryError):  # refused is as good as forgotten: the next query counts
        tracepond.sql(statement, store=store)
    assert tracepond.sql("SELECT count(*) FROM traces", store=store).fetchall() == [(6,)]
    assert tracepond.sql("SELECT lower('ABC')", store=store).fetchall() == [("abc",)]
    assert len(tracepond.search_traces(store=store, max_results=100)) == 6
    assert file_digest(store) == before


def test_bad_sql_is_a_query_error(store: str) -> None:
    with pytest.raises(QueryError, match="nosuch"):
        tracepond.sql("SELECT * FROM nosuch", store=store)
    with pytest.raises(QueryError):
        tracepond.sql("SELEC 1", store=store)
    with pytest.raises(QueryError):
        tracepond.sql("   ", store=store)


def test_a_slow_query_is_stopped_at_the_time_limit(store: str) -> None:
    started = time.monotonic()
    with pytest.raises(QueryError, match=r"longer than 0\.5 s"):
        tracepond.sql(
            "SELECT count(*) FROM range(10000000000) a WHERE a.range % 7 = 3",
            store=store,
            timeout_s=0.5,
        )
    assert time.monotonic() - started < 60  # it stopped (a sanity bound, not a benchmark)
    assert tracepond.sql("SELECT 1", store=store).fetchall() == [(1,)]


def test_a_store_not_yet_written_reads_as_empty_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.duckdb"
    assert tracepond.sql("SELECT count(*) FROM spans", store=str(missing)).fetchall() == [(0,)]
    assert tracepond.sql("SELECT * FROM traces", store=str(missing)).columns[0] == "trace_id"
    assert tracepond.search_traces(store=str(missing)) == []
    assert tracepond.search_traces(filter="span.model = 'x'", store=str(missing)) == []
    assert tracepond.get_trace("0" * 32, store=str(missing)) is None
    with pytest.raises(QueryError, match="read-only"):
        tracepond.sql("DELETE FROM spans", store=str(missing))
    assert os.listdir(tmp_path) == []  # nothing created: no store, no lock file
    write_spans(str(missing), [])  # the first write creates it, and reads see it from then on
    assert missing.exists()


def test_a_store_in_a_missing_directory_is_still_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "nothing.duckdb"
    with pytest.raises(StoreError, match="does not exist"):
        tracepond.sql("SELECT 1", store=str(missing))
    with pytest.raises(StoreError, match="does not exist"):
        tracepond.search_traces(store=str(missing))
    assert not (tmp_path / "no").exists()


def test_dropped_counts_of_a_clean_store_are_empty(store: str) -> None:
    assert dropped_span_counts(store=store) == {}


def test_the_configured_store_is_the_default(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEPOND_STORE", store)
    tracepond.configure(store=store)
    assert len(tracepond.search_traces()) == 6
    assert tracepond.sql("SELECT count(*) FROM spans").fetchall() == [(12,)]


def test_span_filters_page_through_the_newest_traces_first(store: str) -> None:
    everything = names("span.span_type = 'CHAT_MODEL'", store)
    assert everything == ["Ünïcode", "O'Brien", "delta", "gamma", "beta", "alpha"]
    pages = [
        names("span.span_type = 'CHAT_MODEL'", store, max_results=2, offset=offset)
        for offset in (0, 2, 4, 6)
    ]
    assert pages == [everything[0:2], everything[2:4], everything[4:6], []]
    assert names("span.model = 'gpt-4o'", store, max_results=1) == ["O'Brien"]
    assert names("span.model = 'gpt-4o'", store, max_results=1, offset=1) == ["beta"]
