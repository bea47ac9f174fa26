"""Migration 3: a store written before runs existed gains the runs/models/registry tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

import tracepond
from tracepond.store import migrations
from tracepond.store import schema_tracking as runs_schema
from tracepond.store.connection import open_store


def test_a_version_2_store_migrates_to_runs_and_keeps_its_traces(tmp_path: Path) -> None:
    path = str(tmp_path / "old.duckdb")
    conn = duckdb.connect(path)
    assert migrations.migrate(conn, path, target=2) == 2
    conn.execute(
        "INSERT INTO traces (trace_id, name, start_time, duration_ms, status, model_id, "
        "input_tokens, output_tokens, cost_usd) VALUES ('a' , 'old', ?, 12.5, 'OK', 'm-1', 3, 4, 0.5)",
        [dt.datetime(2026, 1, 1)],
    )
    conn.close()

    with open_store(path) as migrated:
        version = migrations.stored_version(migrated)
        tables = {
            row[0]
            for row in migrated.execute(
                "SELECT table_name FROM information_schema.tables"
            ).fetchall()
        }
    assert version >= runs_schema.VERSION == 3  # later migrations (4: traces index) may follow
    expected = {
        "experiments", "runs", "params", "metrics", "run_tags", "models", "registered_models",
        "model_versions", "model_aliases", "model_version_tags", "latest_metrics", "model_stats",
        "model_version_stats",
    }  # fmt: skip
    assert expected <= tables

    # The old trace is intact and counts for the model it names once that model is recorded.
    with open_store(path) as conn:
        conn.execute(
            "INSERT INTO models (model_id, name, creation_time) VALUES ('m-1', 'legacy', ?)",
            [dt.datetime(2026, 1, 1)],
        )
    found = tracepond.sql(
        "SELECT trace_count, p50_latency_ms, input_tokens, cost_usd FROM model_stats", store=path
    )
    assert found.fetchall() == [(1, 12.5, 3, 0.5)]
    assert tracepond.sql("SELECT name FROM traces", store=path).fetchall() == [("old",)]
