"""How each model's traces went: trace count, p50/p95 latency, error rate, tokens and cost.

The numbers come from the `model_stats` and `model_version_stats` views (created by the runs
migration), so `tracepond.sql("SELECT * FROM model_stats")` and this function agree.
"""

from __future__ import annotations

from typing import Any

import duckdb

from tracepond.tracking import db as runs_db
from tracepond.tracking.entities import ModelStats

_STAT_COLUMNS = (
    "model_id, trace_count, p50_latency_ms, p95_latency_ms, error_rate, input_tokens, "
    "output_tokens, cost_usd"
)


def _stats(row: tuple[Any, ...]) -> ModelStats:
    model_id, name, version, count, p50, p95, error_rate, tokens_in, tokens_out, cost = row
    return ModelStats(
        model_id=model_id,
        name=name,
        version=version,
        trace_count=int(count),
        p50_latency_ms=None if p50 is None else float(p50),
        p95_latency_ms=None if p95 is None else float(p95),
        error_rate=float(error_rate),
        input_tokens=int(tokens_in),
        output_tokens=int(tokens_out),
        cost_usd=float(cost),
    )


def _query(conn: duckdb.DuckDBPyConnection, name: str | None) -> list[ModelStats]:
    where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
    columns = _STAT_COLUMNS.removeprefix("model_id, ")
    # Logged models first (version NULL), then each registered version, newest first.
    rows = conn.execute(
        f"""
        SELECT * FROM (
            SELECT model_id, model_name AS name, NULL::INTEGER AS version,
                   {columns}
            FROM model_stats
            UNION ALL
            SELECT model_id, name, version, {columns}
            FROM model_version_stats
        ) {where}
        ORDER BY name, version DESC NULLS FIRST, model_id
        """,
        params,
    ).fetchall()
    return [_stats(row) for row in rows]


def model_stats(name: str | None = None, *, store: str | None = None) -> list[ModelStats]:
    """Stats per logged model (``version`` None) and per registered version (``version`` set).

    With `name`, only the logged models of that name and the versions of the registered model
    of that name. Latencies are None for a model without traces.
    """
    path = runs_db.resolve_store(store)
    return runs_db.read(path, lambda conn: _query(conn, name))
