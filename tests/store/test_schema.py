"""Schema versions and migrations, and the files a store refuses to touch."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from tests.store.conftest import file_digest, make_pipeline
from tracepond.errors import NotAStoreError, SchemaVersionError, StoreError
from tracepond.store import migrations
from tracepond.store.connection import open_store, read_connection
from tracepond.store.writer import write_spans


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()
    return {row[0] for row in rows}


def test_new_store_has_every_migration(store_path: Path) -> None:
    with open_store(store_path) as conn:
        versions = [
            row[0]
            for row in conn.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
        ]
        assert versions == [m.version for m in migrations.MIGRATIONS]
        assert {
            "trace_id",
            "name",
            "start_time",
            "end_time",
            "duration_ms",
            "status",
            "experiment_id",
            "run_id",
            "model_id",
            "session_id",
            "user_id",
            "tags",
            "span_count",
            "input_tokens",
            "output_tokens",
            "inputs",
            "outputs",
            "cost_usd",
            "in_progress",
            "root_span_id",
            "metadata",
            "error_count",
            "service_name",
        } <= _columns(conn, "traces")
        assert {
            "trace_id",
            "span_id",
            "parent_span_id",
            "name",
            "span_type",
            "start_time",
            "end_time",
            "duration_ms",
            "status",
            "status_message",
            "provider",
            "model",
            "input_tokens",
            "output_tokens",
            "inputs",
            "outputs",
            "attributes",
            "kind",
            "cost_usd",
            "run_id",
            "model_id",
            "session_id",
            "response_model",
        } <= _columns(conn, "spans")
        assert {"trace_id", "span_id", "name", "time", "attributes"} <= _columns(
            conn, "span_events"
        )


def test_migrations_are_numbered_in_order() -> None:
    versions = [m.version for m in migrations.MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))
    assert versions[-1] == migrations.CURRENT_VERSION


def test_an_older_store_is_migrated_forward_keeping_its_rows(store_path: Path) -> None:
    conn = duckdb.connect(str(store_path))
    migrations.migrate(conn, str(store_path), target=1)  # a store written by tracepond 0.0
    conn.execute(
        "INSERT INTO traces (trace_id, name, span_count) VALUES ('" + "a" * 32 + "', 'old', 1)"
    )
    conn.close()

    with read_connection(store_path) as reader:  # a reader brings it up to date first
        assert reader.execute("SELECT max(version) FROM schema_version").fetchall() == [
            (migrations.CURRENT_VERSION,)
        ]
        assert "cost_usd" in _columns(reader, "traces")
        assert reader.execute("SELECT name, cost_usd FROM traces").fetchall() == [("old", None)]
        assert reader.execute("SELECT count(*) FROM experiments").fetchall() == [(0,)]


def test_a_store_before_response_model_gets_the_requested_model_back(store_path: Path) -> None:
    conn = duckdb.connect(str(store_path))
    migrations.migrate(conn, str(store_path), target=6)  # before spans.response_model
    rows = [
        # (span_id, model as 0.1 stored it: the answered one, attributes)
        (
            "1",
            "gpt-4o-mini-2024-07-18",
            '{"gen_ai.request.model": "gpt-4o-mini", '
            '"gen_ai.response.model": "gpt-4o-mini-2024-07-18"}',
        ),
        ("2", "llama-3.1-8b-instant", '{"gen_ai.request.model": "llama-3.1-8b-instant"}'),
        ("3", "from-openinference", '{"llm.model_name": "from-openinference"}'),
        ("4", None, '{"http.route": "/ask"}'),
    ]
    for span_id, model, attributes in rows:
        conn.execute(
            "INSERT INTO spans (trace_id, span_id, name, model, attributes) VALUES (?, ?, 'x', ?, ?)",
            ["a" * 32, span_id * 16, model, attributes],
        )
    conn.close()

    with open_store(store_path) as migrated:
        assert migrated.execute("SELECT max(version) FROM schema_version").fetchall() == [
            (migrations.CURRENT_VERSION,)
        ]
        assert migrated.execute(
            "SELECT model, response_model FROM spans ORDER BY span_id"
        ).fetchall() == [
            ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
            ("llama-3.1-8b-instant", None),
            ("from-openinference", None),  # no request model recorded: kept as it was
            (None, None),
        ]
        assert migrated.execute("SELECT count(*) FROM spans").fetchall() == [(4,)]  # none lost


def test_a_store_from_a_newer_tracepond_is_refused_untouched(store_path: Path) -> None:
    with open_store(store_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', now()::TIMESTAMP)")
    before = file_digest(store_path)
    for read_only in (False, True):
        with (
            pytest.raises(SchemaVersionError) as raised,
            open_store(store_path, read_only=read_only),
        ):
            pass
        assert "99" in str(raised.value) and str(migrations.CURRENT_VERSION) in str(raised.value)
    with pytest.raises(SchemaVersionError):
        make_pipeline(store_path)  # configure() fails at once, naming both versions
    assert file_digest(store_path) == before


def test_a_file_that_is_not_duckdb_is_never_overwritten(tmp_path: Path) -> None:
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my precious notes\n" * 100)
    before = file_digest(notes)
    with pytest.raises(NotAStoreError, match="not a DuckDB database"), open_store(notes):
        pass
    with pytest.raises(NotAStoreError):
        make_pipeline(notes)
    with pytest.raises(NotAStoreError):
        write_spans(str(notes), [])
    assert file_digest(notes) == before
    assert not Path(f"{notes}.wal").exists()


def test_an_empty_file_is_not_taken_over(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    empty.touch()
    with pytest.raises(NotAStoreError), open_store(empty):
        pass
    assert empty.stat().st_size == 0


def test_a_duckdb_database_of_someone_else_is_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "analytics.duckdb"
    conn = duckdb.connect(str(other))
    conn.execute("CREATE TABLE sales AS SELECT 1 AS amount")
    conn.close()
    before = file_digest(other)
    with pytest.raises(NotAStoreError, match="not a tracepond store"), open_store(other):
        pass
    with pytest.raises(NotAStoreError), read_connection(other):
        pass
    assert file_digest(other) == before


def test_a_store_in_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "t.duckdb"
    with pytest.raises(StoreError, match="does not exist"), open_store(missing):
        pass
    with pytest.raises(StoreError, match="does not exist"):
        make_pipeline(missing)
    assert not (tmp_path / "no").exists()


def test_reading_a_store_that_does_not_exist_creates_nothing(store_path: Path) -> None:
    with read_connection(store_path) as reader:  # an empty store's answer
        assert reader.execute("SELECT count(*) FROM traces").fetchall() == [(0,)]
    assert not store_path.exists()
    assert os.listdir(store_path.parent) == []


def test_a_directory_is_not_a_store_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError), open_store(tmp_path):
        pass
    assert os.listdir(tmp_path) == []
