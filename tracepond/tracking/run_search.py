"""Finding runs (`search_runs`) and linking traces to a run (`link_traces_to_run`).

    tracepond.search_runs(filter="metrics.accuracy > 0.9 AND params.model = 'gpt-4o'",
                          order_by=["metrics.accuracy DESC"], experiment="support-bot")

Fields: ``params.KEY``, ``metrics.KEY`` (the run's latest value), ``tags.KEY``, and the run's
own ``run_id``, ``name`` (or ``run_name``), ``status``, ``experiment_id``, ``experiment`` (or
``experiment_name``), ``parent_run_id``, ``start_time``, ``end_time``, ``duration_ms``;
MLflow's spelling ``attributes.status`` works too.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from tracepond.errors import NotFoundError, QueryError
from tracepond.tracking import db as runs_db
from tracepond.tracking.entities import Run
from tracepond.tracking.runs import load_runs
from tracepond.tracking.search_filter import Field, compile_filter, compile_order_by

_EXPERIMENT_NAME = Field(
    "(SELECT e.name FROM experiments e WHERE e.experiment_id = runs.experiment_id)", "text"
)
_ATTRIBUTES: dict[str, Field] = {
    "run_id": Field("runs.run_id", "text"),
    "name": Field("runs.name", "text"),
    "run_name": Field("runs.name", "text"),
    "status": Field("runs.status", "text"),
    "experiment_id": Field("runs.experiment_id", "text"),
    "experiment": _EXPERIMENT_NAME,
    "experiment_name": _EXPERIMENT_NAME,
    "parent_run_id": Field("runs.parent_run_id", "text"),
    "start_time": Field("runs.start_time", "time"),
    "end_time": Field("runs.end_time", "time"),
    "duration_ms": Field("date_diff('millisecond', runs.start_time, runs.end_time)", "number"),
}
_KEYED = {
    "params": ("(SELECT p.value FROM params p WHERE p.run_id = runs.run_id AND p.key = ?)", "text"),
    "metrics": (
        "(SELECT m.value FROM latest_metrics m WHERE m.run_id = runs.run_id AND m.key = ?)",
        "number",
    ),
    "tags": ("(SELECT t.value FROM run_tags t WHERE t.run_id = runs.run_id AND t.key = ?)", "text"),
}


def resolve_run_field(prefix: str | None, key: str) -> Field | None:
    if prefix is None or prefix == "attributes":
        return _ATTRIBUTES.get(key)
    keyed = _KEYED.get(prefix)
    if keyed is None:
        return None
    return Field(keyed[0], keyed[1], (key,))  # type: ignore[arg-type]


def search_runs(
    filter: str | None = None,
    order_by: list[str] | None = None,
    *,
    experiment: str | Iterable[str] | None = None,
    max_results: int = 1000,
    store: str | None = None,
) -> list[Run]:
    """Runs matching `filter` (newest first unless `order_by` says otherwise), optionally only
    those of the named experiment(s). A malformed filter is a QueryError naming the token."""
    path = runs_db.resolve_store(store)
    where, params = compile_filter(filter, resolve_run_field)
    order, order_params = compile_order_by(
        order_by, resolve_run_field, "runs.start_time DESC, runs.run_id"
    )
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise QueryError(f"max_results must be a positive integer, got {max_results!r}")
    names = [experiment] if isinstance(experiment, str) else list(experiment or [])
    scope = ""
    if names:
        scope = " AND runs.experiment_id IN (SELECT experiment_id FROM experiments WHERE name IN (SELECT unnest(?)))"
    query = f"SELECT runs.* FROM runs WHERE {where}{scope} ORDER BY {order} LIMIT ?"
    all_params = [*params, *([names] if names else []), *order_params, max_results]

    def work(conn: duckdb.DuckDBPyConnection) -> list[Run]:
        if names:
            known = {
                r[0]
                for r in conn.execute(
                    "SELECT name FROM experiments WHERE name IN (SELECT unnest(?))", [names]
                ).fetchall()
            }
            missing = [n for n in names if n not in known]
            if missing:
                raise NotFoundError(f"no experiment named {', '.join(map(repr, missing))}")
        return load_runs(conn, runs_db.fetch_dicts(conn, query, all_params))

    return runs_db.read(path, work)


def link_traces_to_run(trace_ids: Iterable[str], run_id: str, *, store: str | None = None) -> None:
    """Point already-recorded traces at a run (their run_id and experiment_id).

    Unknown trace ids are a NotFoundError naming them, and no trace is changed.
    """
    path = runs_db.resolve_store(store)
    ids = list(dict.fromkeys(trace_ids))
    if not ids:
        return

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        row = conn.execute("SELECT experiment_id FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no run with id {run_id!r}")
        found = {
            r[0]
            for r in conn.execute(
                "SELECT trace_id FROM traces WHERE trace_id IN (SELECT unnest(?))", [ids]
            ).fetchall()
        }
        missing = [trace_id for trace_id in ids if trace_id not in found]
        if missing:
            raise NotFoundError(
                f"no trace with id {', '.join(map(repr, missing))}; nothing was linked"
            )
        conn.execute(
            "UPDATE traces SET run_id = ?, experiment_id = ? WHERE trace_id IN (SELECT unnest(?))",
            [run_id, row[0], ids],
        )

    runs_db.write(path, work)
