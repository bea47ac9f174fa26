"""Logging to a run: params, metrics, tags and artifacts.

Each call writes in one transaction to the active run (or the `run_id` given): a bad value in a
batch records nothing of the batch. Params are fixed once logged (another value is a RunError);
tags may change; metrics accumulate by step. Artifacts are copied into the run's folder beside
the store and never overwrite one another.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from tracepond.errors import RunError
from tracepond.tracking import db as runs_db
from tracepond.tracking import runs


def log_param(key: str, value: Any, *, run_id: str | None = None, store: str | None = None) -> None:
    log_params({key: value}, run_id=run_id, store=store)


def log_params(
    params: Mapping[str, Any], *, run_id: str | None = None, store: str | None = None
) -> None:
    """Record params (stored as text). Logging a key again with another value is a RunError."""
    target, path = runs.log_target(run_id, store)
    cleaned = {runs.check_key("param", k): str(v) for k, v in params.items()}

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        runs.require_run(conn, target)
        stored = dict(
            conn.execute("SELECT key, value FROM params WHERE run_id = ?", [target]).fetchall()
        )
        for key, value in cleaned.items():
            if key in stored and stored[key] != value:
                raise RunError(
                    f"param {key!r} of run {target} is already {stored[key]!r}; it cannot "
                    f"change to {value!r} (params are fixed once logged; use a metric or tag)"
                )
        new = [(target, k, v) for k, v in cleaned.items() if k not in stored]
        if new:
            conn.executemany("INSERT INTO params VALUES (?, ?, ?)", new)

    runs_db.write(path, work)


def _metric_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RunError(f"metric {key!r} must be a number, got {value!r} ({type(value).__name__})")
    return float(value)


def _as_timestamp(timestamp: dt.datetime | float | None) -> dt.datetime:
    """A naive UTC datetime from a datetime or epoch milliseconds (MLflow's convention)."""
    if timestamp is None:
        return runs_db.utcnow()
    if isinstance(timestamp, dt.datetime):
        if timestamp.tzinfo is not None:
            return timestamp.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return timestamp
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, numbers.Real)
        or not math.isfinite(timestamp)
    ):
        raise RunError(f"a metric timestamp is a datetime or epoch milliseconds, got {timestamp!r}")
    return dt.datetime.fromtimestamp(float(timestamp) / 1000, dt.timezone.utc).replace(tzinfo=None)


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    *,
    timestamp: dt.datetime | float | None = None,
    run_id: str | None = None,
    store: str | None = None,
) -> None:
    log_metrics({key: value}, step=step, timestamp=timestamp, run_id=run_id, store=store)


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    *,
    timestamp: dt.datetime | float | None = None,
    run_id: str | None = None,
    store: str | None = None,
) -> None:
    """Record metric values at `step` (default 0). A value that is not a number is a RunError
    naming the key and the value, and nothing of the call is recorded. NaN and infinities are
    numbers and are kept."""
    target, path = runs.log_target(run_id, store)
    if step is None:
        step = 0
    if isinstance(step, bool) or not isinstance(step, int):
        raise RunError(f"a metric step must be an integer, got {step!r}")
    when = _as_timestamp(timestamp)
    rows = [
        (target, runs.check_key("metric", k), _metric_value(k, v), step, when)
        for k, v in metrics.items()
    ]

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        runs.require_run(conn, target)
        conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows)

    runs_db.write(path, work)


def set_tag(key: str, value: Any, *, run_id: str | None = None, store: str | None = None) -> None:
    set_tags({key: value}, run_id=run_id, store=store)


def set_tags(
    tags: Mapping[str, Any], *, run_id: str | None = None, store: str | None = None
) -> None:
    """Set tags on a run; unlike params, a tag may be set again to a new value."""
    target, path = runs.log_target(run_id, store)
    cleaned = runs.clean_tags(tags)

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        runs.require_run(conn, target)
        runs.insert_tags(conn, target, cleaned)

    runs_db.write(path, work)


def log_artifact(
    local_path: str | Path,
    artifact_path: str | None = None,
    *,
    run_id: str | None = None,
    store: str | None = None,
) -> Path:
    """Copy a file or folder into the run's artifact folder (under `artifact_path` if given).

    Returns where it was copied. An existing artifact of the same name is a RunError: artifacts
    are never overwritten.
    """
    target, path = runs.log_target(run_id, store)
    source = Path(local_path)
    if not source.exists():
        raise RunError(f"no file or folder at {source} to log as an artifact")
    root = Path(runs.get_run(target, store=path).info.artifact_uri)
    folder = root / (artifact_path or "")
    destination = folder / source.name
    if not folder.resolve().is_relative_to(root.resolve()):  # e.g. artifact_path="../x"
        raise RunError(f"artifact_path {artifact_path!r} leaves the run's artifact folder")
    if destination.exists():
        raise RunError(f"run {target} already has an artifact at {destination}; nothing was copied")
    folder.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination)
    else:
        shutil.copy2(source, destination)
    return destination
