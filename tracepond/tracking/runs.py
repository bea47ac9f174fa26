"""Experiments and runs: start, log params / metrics / tags / artifacts, end.

    with tracepond.start_run(experiment="support-bot", name="eval-3") as run:
        tracepond.log_params({"temperature": 0.2})
        tracepond.log_metric("accuracy", 0.91, step=1)

A run is active in the context that started it (a contextvar, so threads and asyncio tasks each
see their own); traces started while it is active carry its run_id and experiment_id through
`tracepond.tracing.context`. Ending by exception marks the run FAILED and re-raises.
"""

from __future__ import annotations

import atexit
import contextvars
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import orjson

from tracepond.errors import ExperimentConflictError, NotFoundError, RunError, log_internal_error
from tracepond.tracking import db as runs_db
from tracepond.tracking.entities import Experiment, Metric, Run, RunData, RunInfo

RUNNING, FINISHED, FAILED, KILLED = "RUNNING", "FINISHED", "FAILED", "KILLED"
END_STATUSES = (FINISHED, FAILED, KILLED)
DEFAULT_EXPERIMENT = "Default"

# The runs active in this context, innermost last: (run_id, experiment_id, store).
_active: contextvars.ContextVar[tuple[tuple[str, str, str], ...]] = contextvars.ContextVar(
    "tracepond_active_runs", default=()
)
_active_experiment: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tracepond_active_experiment", default=None
)


def reset() -> None:
    """Forget the active runs and experiment of this context without ending them (for tests;
    `end_run` is how an application ends a run)."""
    _active.set(())
    _active_experiment.set(None)
    _sync_tracing_context()


# --- experiments -----------------------------------------------------------------------------


def _experiment_from_row(row: dict[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=row["experiment_id"],
        name=row["name"],
        artifact_location=row["artifact_location"],
        description=row["description"],
        tags=orjson.loads(row["tags"]),
        creation_time=row["creation_time"],
    )


def _find_experiment(conn: duckdb.DuckDBPyConnection, name: str) -> Experiment | None:
    rows = runs_db.fetch_dicts(conn, "SELECT * FROM experiments WHERE name = ?", [name])
    return _experiment_from_row(rows[0]) if rows else None


def _conflicts(
    found: Experiment,
    artifact_location: str | None,
    description: str | None,
    tags: Mapping[str, Any] | None,
) -> list[str]:
    """The settings given that differ from the stored experiment's (None means 'any')."""
    wanted = {
        "artifact_location": artifact_location,
        "description": description,
        "tags": None if tags is None else {str(k): str(v) for k, v in tags.items()},
    }
    return [
        f"{key}={value!r} (stored: {getattr(found, key)!r})"
        for key, value in wanted.items()
        if value is not None and value != getattr(found, key)
    ]


def _ensure_experiment(
    conn: duckdb.DuckDBPyConnection,
    store: str,
    name: str,
    artifact_location: str | None = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Experiment:
    """The experiment `name`, created if missing; other settings than stored: a conflict."""
    if not isinstance(name, str) or not name.strip():
        raise RunError(f"an experiment name must be a non-empty string, got {name!r}")
    found = _find_experiment(conn, name)
    if found is not None:
        differences = _conflicts(found, artifact_location, description, tags)
        if differences:
            raise ExperimentConflictError(
                f"experiment {name!r} already exists with other settings: " + "; ".join(differences)
            )
        return found
    experiment_id = uuid.uuid4().hex
    location = artifact_location or str(runs_db.artifact_root(store) / experiment_id)
    conn.execute(
        "INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?)",
        [
            experiment_id,
            name,
            location,
            description,
            orjson.dumps({str(k): str(v) for k, v in (tags or {}).items()}).decode(),
            runs_db.utcnow(),
        ],
    )
    created = _find_experiment(conn, name)
    assert created is not None
    return created


def _experiment_of_run(conn: duckdb.DuckDBPyConnection, run_id: str) -> Experiment:
    info = require_run(conn, run_id)
    rows = runs_db.fetch_dicts(
        conn, "SELECT * FROM experiments WHERE experiment_id = ?", [info.experiment_id]
    )
    return _experiment_from_row(rows[0])


def set_experiment(
    name: str,
    *,
    artifact_location: str | None = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    store: str | None = None,
) -> Experiment:
    """Get or create the experiment `name` and make it the default for `start_run`.

    Settings given for an existing experiment must match what is stored, else
    ExperimentConflictError (nothing changes).
    """
    path = runs_db.resolve_store(store)
    found = runs_db.write(
        path,
        lambda conn: _ensure_experiment(conn, path, name, artifact_location, description, tags),
    )
    _active_experiment.set(name)
    return found


def get_experiment_by_name(name: str, *, store: str | None = None) -> Experiment | None:
    path = runs_db.resolve_store(store)
    return runs_db.read(path, lambda conn: _find_experiment(conn, name))


# --- run lifecycle ---------------------------------------------------------------------------


class ActiveRun:
    """What `start_run` returns: the run's id, and a context manager that ends the run."""

    def __init__(self, run_id: str, experiment_id: str, store: str) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.store = store

    @property
    def info(self) -> RunInfo:
        return get_run(self.run_id, store=self.store).info

    @property
    def data(self) -> RunData:
        return get_run(self.run_id, store=self.store).data

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not any(entry[0] == self.run_id for entry in _active.get()):
            return  # ended inside the block by an explicit end_run()
        if exc_type is None:
            status = FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = KILLED
        else:
            status = FAILED
        end_run(status=status, run_id=self.run_id)

    def __repr__(self) -> str:
        return f"<ActiveRun run_id={self.run_id!r} experiment_id={self.experiment_id!r}>"


def _sync_tracing_context() -> None:
    """Tell tracing which run new spans belong to (the innermost active one, or none)."""
    from tracepond.tracing import context

    stack = _active.get()
    if stack:
        context.set_active_run(stack[-1][0], stack[-1][1])
    else:
        context.set_active_run(None, None)


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    *,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    store: str | None = None,
) -> ActiveRun:
    """Start a run and make it active; use it with ``with`` or end it with `end_run`.

    `experiment` is a name, created on first use (default: the one `set_experiment` chose, else
    "Default"). While a run is active, another needs ``nested=True`` and becomes its child.
    """
    path = runs_db.resolve_store(store)
    stack = _active.get()
    if stack and not nested and parent_run_id is None:
        raise RunError(
            f"run {stack[-1][0]} is already active; end it first, or pass nested=True "
            "to start a child run"
        )
    parent = parent_run_id or (stack[-1][0] if stack and nested else None)
    experiment_name = experiment or _active_experiment.get() or DEFAULT_EXPERIMENT
    run_id = uuid.uuid4().hex

    def work(conn: duckdb.DuckDBPyConnection) -> Experiment:
        if experiment is None and parent is not None:
            exp = _experiment_of_run(conn, parent)  # a child stays in its parent's experiment
        else:
            if parent is not None:
                require_run(conn, parent)
            exp = _ensure_experiment(conn, path, experiment_name)
        artifact_uri = str(Path(exp.artifact_location) / run_id / "artifacts")
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            [run_id, exp.experiment_id, name, RUNNING, runs_db.utcnow(), parent, artifact_uri],
        )
        insert_tags(conn, run_id, clean_tags(tags or {}))
        return exp

    exp = runs_db.write(path, work)
    _active.set((*stack, (run_id, exp.experiment_id, path)))
    _sync_tracing_context()
    return ActiveRun(run_id, exp.experiment_id, path)


def active_run() -> ActiveRun | None:
    """The innermost run active in this context, or None."""
    stack = _active.get()
    return ActiveRun(*stack[-1]) if stack else None


def end_run(status: str = FINISHED, *, run_id: str | None = None, store: str | None = None) -> None:
    """End the active run (or `run_id`) with `status`: FINISHED, FAILED or KILLED.

    Ending a run that already ended raises RunError and changes nothing.
    """
    if status not in END_STATUSES:
        raise RunError(f"a run ends as one of {', '.join(END_STATUSES)}, not {status!r}")
    stack = _active.get()
    if run_id is None:
        if not stack:
            raise RunError("no active run to end (was it already ended?)")
        run_id, _, path = stack[-1]
    else:
        path = next((e[2] for e in stack if e[0] == run_id), None) or runs_db.resolve_store(store)
    target = run_id

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        info = require_run(conn, target)
        if info.status != RUNNING:
            raise RunError(
                f"run {target} already ended with status {info.status} at {info.end_time}; "
                "nothing was changed"
            )
        conn.execute(
            "UPDATE runs SET status = ?, end_time = ? WHERE run_id = ?",
            [status, runs_db.utcnow(), target],
        )

    runs_db.write(path, work)
    _active.set(tuple(entry for entry in stack if entry[0] != target))
    _sync_tracing_context()


# --- shared by the logging functions (tracepond.tracking.run_logging) ----------------------------


def log_target(run_id: str | None, store: str | None) -> tuple[str, str]:
    """(run_id, store) for a log call: the given run, else the active one."""
    if run_id is not None:
        stack = _active.get()
        path = next((e[2] for e in stack if e[0] == run_id), None)
        return run_id, path or runs_db.resolve_store(store)
    stack = _active.get()
    if not stack:
        raise RunError("no active run: call tracepond.start_run() first, or pass run_id=")
    return stack[-1][0], stack[-1][2]


def check_key(kind: str, key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > 250:
        raise RunError(
            f"a {kind} key must be a non-empty string of at most 250 characters, got {key!r}"
        )
    return key


def clean_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    return {check_key("tag", k): str(v) for k, v in tags.items()}


def insert_tags(conn: duckdb.DuckDBPyConnection, run_id: str, tags: dict[str, str]) -> None:
    if tags:
        conn.executemany(
            "INSERT OR REPLACE INTO run_tags VALUES (?, ?, ?)",
            [(run_id, k, v) for k, v in tags.items()],
        )


# --- reading ---------------------------------------------------------------------------------


def _info_from_row(row: dict[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=row["run_id"],
        experiment_id=row["experiment_id"],
        name=row["name"],
        status=row["status"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        parent_run_id=row["parent_run_id"],
        artifact_uri=row["artifact_uri"],
    )


def require_run(conn: duckdb.DuckDBPyConnection, run_id: str) -> RunInfo:
    rows = runs_db.fetch_dicts(conn, "SELECT * FROM runs WHERE run_id = ?", [run_id])
    if not rows:
        raise NotFoundError(f"no run with id {run_id!r}")
    return _info_from_row(rows[0])


def load_runs(conn: duckdb.DuckDBPyConnection, run_rows: list[dict[str, Any]]) -> list[Run]:
    """Runs with their params, latest metrics and tags, in the order of `run_rows`."""
    ids = [row["run_id"] for row in run_rows]
    if not ids:
        return []
    data: dict[str, tuple[dict[str, str], dict[str, float], dict[str, str]]] = {
        run_id: ({}, {}, {}) for run_id in ids
    }
    for index, table in enumerate(("params", "latest_metrics", "run_tags")):
        query = f"SELECT run_id, key, value FROM {table} WHERE run_id IN (SELECT unnest(?))"
        for run_id, key, value in conn.execute(query, [ids]).fetchall():
            data[run_id][index][key] = value  # type: ignore[index]
    return [Run(info=_info_from_row(row), data=RunData(*data[row["run_id"]])) for row in run_rows]


def get_run(run_id: str, *, store: str | None = None) -> Run:
    """The run with its params, latest metrics and tags; NotFoundError if there is none."""
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> Run:
        rows = runs_db.fetch_dicts(conn, "SELECT * FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            raise NotFoundError(f"no run with id {run_id!r} in {path}")
        return load_runs(conn, rows)[0]

    return runs_db.read(path, work)


def get_metric_history(run_id: str, key: str, *, store: str | None = None) -> list[Metric]:
    """Every value logged for a metric of a run, by step then time."""
    path = runs_db.resolve_store(store)
    rows = runs_db.read(
        path,
        lambda conn: conn.execute(
            "SELECT key, value, step, timestamp FROM metrics WHERE run_id = ? AND key = ? "
            "ORDER BY step, timestamp",
            [run_id, key],
        ).fetchall(),
    )
    return [Metric(*row) for row in rows]


def _end_runs_left_open() -> None:
    """At exit, end the runs the main thread left active as FINISHED (as MLflow does), so a
    script that never called end_run does not leave them RUNNING forever."""
    for run_id, _, store in reversed(_active.get()):
        try:
            end_run(FINISHED, run_id=run_id, store=store)
        except Exception:
            log_internal_error("ending runs left open at exit")


atexit.register(_end_runs_left_open)
