"""Migration 6: a store of version 5 (the one before) gains the assessments and dataset tables, data kept."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tracepond.store import migrations
from tracepond.store.connection import open_store


def test_a_version_5_store_migrates_to_the_quality_tables(tmp_path: Path) -> None:
    path = str(tmp_path / "old.duckdb")
    conn = duckdb.connect(path)
    migrations.migrate(conn, path, target=5)
    conn.execute("INSERT INTO traces (trace_id, name) VALUES ('ab' || repeat('0', 30), 'kept')")
    conn.close()

    with open_store(path) as store:
        tables = {
            row[0]
            for row in store.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        columns = [
            row[0]
            for row in store.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'assessments' ORDER BY ordinal_position"
            ).fetchall()
        ]
        kept = store.execute("SELECT name FROM traces").fetchall()
    assert {"assessments", "datasets", "dataset_versions", "dataset_records"} <= tables
    contract = ["assessment_id", "trace_id", "span_id", "name", "kind", "value", "source_type",
                "source_id", "rationale", "error", "run_id", "create_time", "valid", "overrides"]  # fmt: skip
    assert [c for c in columns if c in contract] == contract
    assert kept == [("kept",)]
