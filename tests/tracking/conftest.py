"""Fixtures of the runs, models and registry tests.

- ``store``: tracepond configured with a fresh store in the test's folder; its path as text.
- ``snapshot``: every row of the runs/models/registry tables (and traces), to prove that a bad
  input left the store exactly as it was.
- Each test starts and ends with no active run, experiment or model in its context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tracepond
from tracepond.tracing import context
from tracepond.tracking import runs

TABLES = (
    "experiments",
    "runs",
    "params",
    "metrics",
    "run_tags",
    "models",
    "registered_models",
    "model_versions",
    "model_aliases",
    "model_version_tags",
    "traces",
    "spans",
)


@pytest.fixture(autouse=True)
def no_active_run() -> Iterator[None]:
    runs.reset()
    context.set_active_model_id(None)
    yield
    runs.reset()
    context.set_active_model_id(None)


@pytest.fixture
def store(store_path: Path) -> str:  # TEMP until the duckdb exporter lands: use configured
    import os

    return os.environ["TRACEPOND_STORE"]


def read_all(store: str, tables: tuple[str, ...] = TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every runs/models/registry table (or of ``tables``), in a stable order."""
    tracepond.flush()
    if not Path(store).exists():
        return {}
    # Through tracepond.sql: it takes turns with this process's span writer, which a raw
    # duckdb.connect() would collide with ("different configuration than existing connections").
    return {
        table: sorted(tracepond.sql(f"SELECT * FROM {table}", store=store).fetchall(), key=repr)
        for table in tables
    }


@pytest.fixture
def snapshot(store: str) -> Callable[[], dict[str, list[tuple[Any, ...]]]]:
    return lambda: read_all(store)


def rows(store: str, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of a read-only query, after what is pending reached the store."""
    tracepond.flush()
    return tracepond.sql(query, params=params, store=store).fetchall()
