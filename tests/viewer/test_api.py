"""The JSON API in-process (httpx.ASGITransport): shapes, filters, paging, live cursor, errors."""

from __future__ import annotations

import time

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.viewer.conftest import XSS_NAME, SampleStore
from tracepond.store.writer import write_spans
from tracepond.viewer.server import create_app

TRACE_KEYS = {
    "trace_id",
    "name",
    "status",
    "start_time",
    "end_time",
    "duration_ms",
    "in_progress",
    "session_id",
    "user_id",
    "run_id",
    "model_id",
    "experiment_id",
    "span_count",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "error_count",
    "tags",
    "models",
    "model",
}


async def test_health_reports_version_store_and_features(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    body = (await client.get("/api/health")).json()
    assert body["status"] == "ok" and body["version"]
    assert body["store"] == sample_store.path
    assert set(body["features"]) == {"runs", "models"}


async def test_trace_list_shape_order_and_totals(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    body = (await client.get("/api/traces", params={"count": "true"})).json()
    assert body["total"] == 4 and body["has_more"] is False and body["offset"] == 0
    assert (await client.get("/api/traces")).json()["total"] is None  # counted only when asked
    assert (await client.get("/api/traces/count")).json() == {"total": 4}
    traces = body["traces"]
    assert all(set(t) == TRACE_KEYS for t in traces)
    starts = [t["start_time"] for t in traces]
    assert starts == sorted(starts, reverse=True) and starts[0].endswith("Z")
    by_id = {t["trace_id"]: t for t in traces}
    chat = by_id[sample_store.ids["chat"]]
    assert chat["models"] == ["gpt-4o-mini"] and chat["total_tokens"] == 128
    assert chat["session_id"] == "s1" and chat["tags"] == {"env": "test"}
    assert chat["cost_usd"] == pytest.approx(0.0032)
    assert by_id[sample_store.ids["running"]]["in_progress"] is True
    assert by_id[sample_store.ids["error"]]["status"] == "ERROR"
    assert body["cursor"]


async def test_filter_language_selects_traces(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    errors = (
        await client.get("/api/traces", params={"filter": "status = 'ERROR'", "count": "1"})
    ).json()
    assert [t["trace_id"] for t in errors["traces"]] == [sample_store.ids["error"]]
    assert errors["total"] == 1
    count = (
        await client.get("/api/traces/count", params={"filter": "span.model = 'gpt-4o'"})
    ).json()
    assert count == {"total": 1}
    by_span = (
        await client.get(
            "/api/traces", params={"filter": "span.model = 'gpt-4o-mini' and session_id = 's1'"}
        )
    ).json()
    assert [t["trace_id"] for t in by_span["traces"]] == [sample_store.ids["chat"]]


@pytest.mark.parametrize(
    "bad", ["status =", "status = 'OK' and", "nosuchfield = 1", "status = 'OK'; DROP TABLE traces"]
)
async def test_a_malformed_filter_is_a_400_with_the_message(
    client: httpx.AsyncClient, bad: str
) -> None:
    response = await client.get("/api/traces", params={"filter": bad})
    assert response.status_code == 400
    body = response.json()
    assert body["kind"] == "filter" and "filter" in body["error"]
    assert (await client.get("/api/traces/count", params={"filter": bad})).status_code == 400
    after = (await client.get("/api/traces/count")).json()
    assert after["total"] == 4  # nothing was changed by the attempt


async def test_sort_and_paging(client: httpx.AsyncClient) -> None:
    by_duration = (
        await client.get("/api/traces", params={"sort": "duration_ms", "order": "asc"})
    ).json()
    durations = [t["duration_ms"] for t in by_duration["traces"]]
    assert durations[:3] == sorted(durations[:3]) and durations[-1] is None  # running: NULLS LAST
    page1 = (await client.get("/api/traces", params={"limit": 2})).json()
    page2 = (await client.get("/api/traces", params={"limit": 2, "offset": 2})).json()
    assert page1["has_more"] is True and page2["has_more"] is False
    ids = [t["trace_id"] for t in page1["traces"] + page2["traces"]]
    assert len(set(ids)) == 4


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"limit": "0"}, "limit must be between"),
        ({"limit": "x"}, "limit must be an integer"),
        ({"sort": "password"}, "sort must be one of"),
        ({"from": "yesterday"}, "from must be an ISO 8601"),
        ({"range": "2y"}, "range must be one of"),
        ({"since": "not-a-cursor"}, "since must be a cursor"),
        ({"since": "2026-01-01T00:00:00", "ids": "abc"}, "ids must be"),
        ({"count": "maybe"}, "count must be"),
    ],
)
async def test_bad_parameters_are_400s(
    client: httpx.AsyncClient, params: dict[str, str], fragment: str
) -> None:
    response = await client.get("/api/traces", params=params)
    assert response.status_code == 400 and fragment in response.json()["error"]


async def test_time_range_narrows_the_list(client: httpx.AsyncClient) -> None:
    recent = (await client.get("/api/traces", params={"range": "15m", "count": "true"})).json()
    assert recent["total"] == 4
    later = str(int(time.time() * 1000) + 3_600_000)
    future = (await client.get("/api/traces", params={"from": later, "count": "true"})).json()
    assert future["total"] == 0 and future["traces"] == []


async def test_since_cursor_returns_only_new_traces_and_listed_ids(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    first = (await client.get("/api/traces")).json()
    quiet = (await client.get("/api/traces", params={"since": first["cursor"]})).json()
    assert quiet["traces"] == [] and quiet["total"] is None
    running = sample_store.ids["running"]
    again = (
        await client.get("/api/traces", params={"since": first["cursor"], "ids": running})
    ).json()
    assert [t["trace_id"] for t in again["traces"]] == [running]

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("brand new").end()
    write_spans(sample_store.path, exporter.get_finished_spans())
    fresh = (await client.get("/api/traces", params={"since": first["cursor"]})).json()
    assert [t["name"] for t in fresh["traces"]] == ["brand new"]
    assert fresh["cursor"] > first["cursor"]
    assert (await client.get("/api/traces", params={"since": fresh["cursor"]})).json()[
        "traces"
    ] == []


def write_trace(store: str, name: str, start_ns: int | None = None) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = provider.get_tracer("t").start_span(name, start_time=start_ns)
    span.end(end_time=None if start_ns is None else start_ns + 1000)
    write_spans(store, exporter.get_finished_spans())


async def test_a_span_from_the_future_never_becomes_the_cursor(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    year_2255 = 9_000_000_000 * 1_000_000_000
    write_trace(sample_store.path, "dated 2255", year_2255)
    first = (await client.get("/api/traces")).json()
    assert first["traces"][0]["name"] == "dated 2255"  # listed, newest first, as it claims
    assert first["cursor"] <= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))
    write_trace(sample_store.path, "arrived after it")
    fresh = (await client.get("/api/traces", params={"since": first["cursor"]})).json()
    names = [t["name"] for t in fresh["traces"]]
    assert "arrived after it" in names  # new traces still show up
    assert fresh["cursor"] <= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))
    count = (await client.get("/api/traces", params={"count": "true"})).json()["total"]
    assert count == 6  # the four sample traces and both new ones: nothing lost


async def test_trace_detail_outline(client: httpx.AsyncClient, sample_store: SampleStore) -> None:
    body = (await client.get(f"/api/traces/{sample_store.ids['chat']}")).json()
    info, columns = body["info"], body["spans"]
    assert info["name"] == "answer question" and info["span_count"] == 4 == body["span_count"]
    assert info["root_span_id"] == sample_store.span_ids["root"]
    assert list(columns) == [
        "span_id",
        "parent_span_id",
        "name",
        "span_type",
        "status",
        "start_offset_ms",
        "duration_ms",
        "model",
        "input_tokens",
        "output_tokens",
        "cost_usd",
    ]
    assert all(len(values) == 4 for values in columns.values())
    assert columns["parent_span_id"][0] is None
    assert set(columns["parent_span_id"][1:]) == {sample_store.span_ids["root"]}
    assert columns["start_offset_ms"] == [0.0, 100.0, 500.0, 600.0]
    assert columns["span_type"] == ["CHAIN", "CHAT_MODEL", "TOOL", "CHAT_MODEL"]
    assert columns["input_tokens"] == [None, 42, None, 60]
    assert info["models"] == ["gpt-4o-mini"]


async def test_trace_detail_errors(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/traces/" + "ab" * 16)
    assert missing.status_code == 404 and missing.json()["kind"] == "not_found"
    bad = await client.get("/api/traces/not-hex")
    assert bad.status_code == 400


async def test_span_detail_has_attributes_messages_and_exception_events(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    chat = (
        await client.get(
            f"/api/traces/{sample_store.ids['chat']}/spans/{sample_store.span_ids['chat']}"
        )
    ).json()
    assert chat["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert "gen_ai.input.messages" in chat["attributes"] and chat["events"] == []
    assert chat["start_offset_ms"] == pytest.approx(100, abs=1)
    failed = (
        await client.get(
            f"/api/traces/{sample_store.ids['error']}/spans/{sample_store.span_ids['error']}"
        )
    ).json()
    assert failed["status"] == "ERROR" and failed["status_message"] == "rate limited by provider"
    [event] = failed["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "RuntimeError"
    assert "Traceback" in event["attributes"]["exception.stacktrace"]
    missing = await client.get(f"/api/traces/{sample_store.ids['error']}/spans/{'0' * 15}1")
    assert missing.status_code == 404


async def test_sessions_group_traces(client: httpx.AsyncClient, sample_store: SampleStore) -> None:
    body = (await client.get("/api/sessions")).json()
    [session] = body["sessions"]
    assert session["session_id"] == "s1" and session["trace_count"] == 2
    assert session["user_ids"] == ["u1"] and session["error_count"] == 1
    assert session["elapsed_ms"] == pytest.approx(62_000)
    detail = (await client.get("/api/sessions/s1")).json()
    assert [t["trace_id"] for t in detail["traces"]] == [
        sample_store.ids["chat"],
        sample_store.ids["error"],
    ]
    assert detail["traces"][0]["outputs"] == "It is sunny in Paris."
    assert detail["traces"][0]["inputs"]["messages"][0]["role"] == "user"
    assert (await client.get("/api/sessions/nope")).status_code == 404


async def test_dashboard_series_line_up(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/dashboard", params={"range": "1h"})).json()
    n = len(body["buckets"])
    assert n >= 2 and body["bucket_seconds"] == 60 and body["bucket_label"] == "minute"
    for key in ("traces", "errors", "p50_ms", "p95_ms", "error_rate"):
        assert len(body[key]) == n
    assert sum(body["traces"]) == 4 and sum(body["errors"]) == 1
    assert body["models"] == ["gpt-4o-mini", "gpt-4o"]
    assert sum(body["tokens_by_model"]["gpt-4o-mini"]) == 128
    assert sum(body["cost_by_model"]["gpt-4o-mini"]) == pytest.approx(0.0032)
    assert body["totals"]["traces"] == 4 and body["totals"]["errors"] == 1


async def test_sql_reads_and_refuses_writes(client: httpx.AsyncClient) -> None:
    ok = (
        await client.post(
            "/api/sql", json={"sql": "SELECT name, span_type FROM spans ORDER BY name", "limit": 2}
        )
    ).json()
    assert (
        ok["columns"] == ["name", "span_type"] and len(ok["rows"]) == 2 and ok["truncated"] is True
    )
    for statement in (
        "DELETE FROM spans",
        "DROP TABLE traces",
        "CREATE TABLE x (a INT)",
        "COPY spans TO '/tmp/x.csv'",
        "ATTACH '/tmp/other.duckdb'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "INSTALL httpfs",
        "SET threads = 1",
    ):
        refused = await client.post("/api/sql", json={"sql": statement})
        assert refused.status_code == 400 and refused.json()["kind"] == "query", statement
    count = (await client.post("/api/sql", json={"sql": "SELECT count(*) FROM spans"})).json()
    assert count["rows"] == [[7]]  # still every span
    assert (await client.post("/api/sql", json={"sql": "SHOW TABLES"})).status_code == 200
    assert (await client.post("/api/sql", content=b"not json")).status_code == 400
    assert (await client.post("/api/sql", json={"sql": ""})).status_code == 400
    assert (await client.post("/api/sql", json={"sql": "SELEC 1"})).status_code == 400


PAST_THE_LIMIT = (
    "SELECT i, CASE WHEN i < 10000000 THEN i::VARCHAR ELSE error('row computed past the limit') END"
    " AS s FROM range(20000000) t(i)"
)


async def test_sql_takes_one_statement(client: httpx.AsyncClient) -> None:
    for text in (
        "SELECT 1; SELECT i, i::VARCHAR FROM range(20000000) t(i)",
        "SELECT 1; SELECT error('the second statement ran')",
        "SELECT count(*) FROM spans; DELETE FROM spans",
    ):
        for response in (
            await client.post("/api/sql", json={"sql": text, "limit": 1}),
            await client.get("/api/sql.csv", params={"sql": text}),
        ):
            assert response.status_code == 400, text
            assert response.json()["kind"] == "query"
            assert "one statement at a time" in response.json()["error"]
            assert "the second statement ran" not in response.json()["error"]
    count = (await client.post("/api/sql", json={"sql": "SELECT count(*) FROM spans;"})).json()
    assert count["rows"] == [[7]]  # a trailing ';' is still one statement; nothing was deleted


async def test_the_row_limit_applies_while_fetching(client: httpx.AsyncClient) -> None:
    # rows past ~10M raise when computed: the answer proves they never were
    body = (await client.post("/api/sql", json={"sql": PAST_THE_LIMIT, "limit": 3})).json()
    assert body["rows"] == [[0, "0"], [1, "1"], [2, "2"]] and body["truncated"] is True
    ordered = PAST_THE_LIMIT.replace("range(20000000) t(i)", "range(20000000) t(i) LIMIT 5")
    body = (await client.post("/api/sql", json={"sql": "SHOW TABLES", "limit": 1})).json()
    assert len(body["rows"]) == 1 and body["truncated"] is True  # not a SELECT, still limited
    body = (await client.post("/api/sql", json={"sql": ordered, "limit": 10})).json()
    assert len(body["rows"]) == 5 and body["truncated"] is False


async def test_sql_csv_download(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/sql.csv",
        params={
            "sql": "SELECT name, input_tokens FROM spans WHERE input_tokens IS NOT NULL ORDER BY input_tokens"
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = response.text.splitlines()
    assert lines[0] == "name,input_tokens" and lines[1:] == [
        "chat gpt-4o-mini,42",
        "chat gpt-4o-mini,60",
    ]


async def test_unknown_api_path_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing/here")
    assert response.status_code == 404 and response.json()["kind"] == "not_found"


async def test_hostile_names_come_back_as_plain_json_strings(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    body = (await client.get(f"/api/traces/{sample_store.ids['xss']}")).json()
    assert body["info"]["name"] == XSS_NAME
    response = await client.get(f"/api/traces/{sample_store.ids['xss']}")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_runs_and_models_endpoints_list_what_the_store_has(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    from tracepond.tracing import context
    from tracepond.tracking.logged_models import set_active_model
    from tracepond.tracking.runs import start_run

    assert (await client.get("/api/runs")).json()["runs"] == []
    with start_run(experiment="support-bot", name="eval-3", store=sample_store.path) as run:
        model = set_active_model(name="support-bot", store=sample_store.path)
    context.set_active_model_id(None)
    runs = (await client.get("/api/runs")).json()
    [listed] = runs["runs"]
    assert listed["run_id"] == run.info.run_id and listed["name"] == "eval-3"
    assert listed["experiment"] == "support-bot" and listed["status"] == "FINISHED"
    assert runs["columns"][0] == "run_id"
    models = (await client.get("/api/models")).json()["models"]
    assert [m["model_id"] for m in models] == [model.model_id] and models[0]["traces"] == 0


async def test_a_slow_statement_is_stopped(sample_store: SampleStore) -> None:
    app = create_app(sample_store.path, sql_timeout_s=0.3)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        began = time.monotonic()
        response = await c.post(
            "/api/sql",
            json={"sql": "SELECT count(*) FROM range(100000000000) a(x) WHERE x % 7 = 3"},
        )
        assert response.status_code == 400 and "ran longer than 0.3 s" in response.json()["error"]
        assert time.monotonic() - began < 10
        assert (
            await c.post("/api/sql", json={"sql": "SELECT 1"})
        ).status_code == 200  # still serving
