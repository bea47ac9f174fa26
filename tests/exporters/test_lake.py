"""A Parquet export read as a read-only store, from a folder and from S3 (moto's server on
127.0.0.1): the same views, sql(), search_traces and get_trace; nothing writable."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import tracepond
from tests.interop.stores import days_of_traces
from tracepond.errors import ConfigError, QueryError, StoreError
from tracepond.exporters.parquet import export_parquet
from tracepond.store.connection import read_connection
from tracepond.store.lake import open_lake

DAYS = [dt.datetime(2026, 11, 27, 9, 0), dt.datetime(2026, 11, 28, 9, 0)]
TABLES = {
    "traces": "trace_id",
    "spans": "trace_id, span_id",
    "span_events": "trace_id, span_id, time",
}


@pytest.fixture
def exported(tmp_path: Path) -> tuple[str, Path]:
    store = str(tmp_path / "t.duckdb")
    days_of_traces(store, DAYS, per_day=4)
    out = tmp_path / "lake"
    export_parquet(store, out)
    return store, out


def rows(store: str, table: str) -> list[tuple[object, ...]]:
    with read_connection(store) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY {TABLES[table]}").fetchall()


def describe(store: str, table: str) -> list[tuple[object, ...]]:
    with read_connection(store) as conn:
        return [row[:2] for row in conn.execute(f"DESCRIBE {table}").fetchall()]


def test_folder_has_the_same_views_columns_types_and_rows(exported: tuple[str, Path]) -> None:
    store, out = exported
    for table in TABLES:
        assert describe(str(out), table) == describe(store, table), table
        assert rows(str(out), table) == rows(store, table), table


def test_query_api_works_over_the_folder(exported: tuple[str, Path]) -> None:
    store, out = exported
    lake = str(out)
    errors = tracepond.search_traces(filter="status = 'ERROR'", store=lake)
    assert {t.info.trace_id for t in errors} == {
        t.info.trace_id for t in tracepond.search_traces(filter="status = 'ERROR'", store=store)
    }
    assert len(errors) == 2
    by_model = tracepond.search_traces(filter="span.model = 'gpt-4o-mini'", store=lake)
    assert len(by_model) == 8
    trace = tracepond.get_trace(errors[0].info.trace_id, store=lake)
    assert trace is not None
    assert trace.to_dict() == tracepond.get_trace(errors[0].info.trace_id, store=store).to_dict()
    result = tracepond.sql(
        "SELECT model, sum(input_tokens) FROM spans WHERE model IS NOT NULL GROUP BY model",
        store=lake,
    )
    assert result.fetchall() == [("gpt-4o-mini", 8 * (10 + 11))]


def test_configure_store_folder_reads_through_the_lake(
    exported: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = exported
    monkeypatch.setenv("TRACEPOND_STORE", str(out))
    from tracepond.store.connection import resolve_store

    assert resolve_store(None) == str(out)
    assert tracepond.sql("SELECT count(*) FROM traces", store=None).fetchall() == [(8,)]


def test_lake_is_read_only(exported: tuple[str, Path], tmp_path: Path) -> None:
    _, out = exported
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    target = tmp_path / "stolen.csv"
    with pytest.raises(QueryError, match="cannot read or write files"):
        tracepond.sql(f"COPY (SELECT * FROM spans) TO '{target}'", store=str(out))
    with pytest.raises(QueryError):
        tracepond.sql("SELECT * FROM read_csv('/etc/passwd')", store=str(out))
    with pytest.raises(QueryError):
        tracepond.sql("SET enable_external_access = true", store=str(out))
    assert not target.exists()
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before


def test_folder_without_an_export_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="holds no tracepond Parquet export"):
        open_lake(str(tmp_path / "empty"))
    with pytest.raises(StoreError):
        tracepond.sql("SELECT 1", store=str(tmp_path / "empty"))


def test_export_without_events_still_has_an_events_view(tmp_path: Path) -> None:
    out = tmp_path / "only-spans"
    (out / "spans").mkdir(parents=True)
    with open_lake(str(out)) as conn:
        assert conn.execute("SELECT count(*) FROM span_events").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM spans").fetchone() == (0,)


# --- S3 -----------------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """moto's S3 server on 127.0.0.1, with the standard AWS variables pointing at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{host}:{port}")
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket="traces-lake")
    try:
        yield client
    finally:
        server.stop()


def upload(client: object, folder: Path, prefix: str) -> int:
    count = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            client.upload_file(str(path), "traces-lake", key)  # type: ignore[attr-defined]
            count += 1
    return count


def test_s3_export_reads_like_the_store(exported: tuple[str, Path], s3: object) -> None:
    store, out = exported
    assert upload(s3, out, "prod/tracepond") > 0
    uri = "s3://traces-lake/prod/tracepond"
    for table in TABLES:
        assert rows(uri, table) == rows(store, table), table
    errors = tracepond.search_traces(filter="status = 'ERROR'", store=uri)
    assert len(errors) == 2
    trace = tracepond.get_trace(errors[0].info.trace_id, store=uri)
    assert trace is not None and len(trace.spans) == 3


def test_s3_prefix_without_an_export_is_a_clear_error(s3: object) -> None:
    with pytest.raises(StoreError, match="s3://traces-lake/nothing-here holds no tracepond"):
        open_lake("s3://traces-lake/nothing-here")
    with pytest.raises(StoreError, match="names no bucket"):
        open_lake("s3:///prefix")


def test_configure_with_a_lake_reads_it_and_writes_nothing(
    exported: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    _, out = exported
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    tracepond.configure(store=str(out))
    with tracepond.start_span("not stored anywhere"):
        pass
    assert "read-only Parquet lake; new spans are not stored locally" in caplog.text
    assert tracepond.flush(10)
    assert tracepond.sql("SELECT count(*) FROM traces").fetchall() == [(8,)]
    assert len(tracepond.search_traces(max_results=100)) == 8
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before


def test_configure_with_a_plain_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        tracepond.configure(store=str(tmp_path))


async def test_viewer_api_serves_the_lake(exported: tuple[str, Path]) -> None:
    import httpx

    from tracepond.viewer.server import create_app

    _, out = exported
    transport = httpx.ASGITransport(app=create_app(str(out)))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        listing = await client.get("/api/traces")
        assert listing.status_code == 200, listing.text
        body = listing.json()
        ids = {item["trace_id"] for item in body.get("traces", body.get("items", []))}
        assert len(ids) == 8
        trace_id = sorted(ids)[0]
        detail = await client.get(f"/api/traces/{trace_id}")
        assert detail.status_code == 200
        assert len(detail.json()["spans"]["span_id"]) == 3
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["_tracepond_export.json", "span_events", "spans", "traces"]
    )


def test_doctor_reads_a_lake(exported: tuple[str, Path]) -> None:
    from click.testing import CliRunner

    from tracepond.cli import main

    _, out = exported
    result = CliRunner().invoke(main, ["doctor", "--store", str(out)])
    assert result.exit_code == 0, result.output
    assert "traces:          8" in result.output and "dropped spans:   0" in result.output


def test_a_lake_has_the_prompt_tables_empty(exported: tuple[str, Path]) -> None:
    """An export holds no prompts: the tables exist, empty, and cannot be written."""
    _, out = exported
    lake = str(out)
    for table in ("prompts", "prompt_versions", "trace_prompts"):
        assert tracepond.sql(f"SELECT count(*) FROM {table}", store=lake).fetchall() == [(0,)]
    assert tracepond.search_traces(filter="prompt.name = 'support'", store=lake) == []
    with pytest.raises(QueryError):
        tracepond.sql("INSERT INTO trace_prompts VALUES ('t', 'n', 1, NULL)", store=lake)
