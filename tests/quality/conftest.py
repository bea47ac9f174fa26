"""Fixtures of the quality tests (assessments, scorers, judges, evaluate, datasets).

- ``store``: tracepond configured with a fresh store in the test's folder; its path as text.
- ``make_trace``: run a traced function and return the new trace's id (its spans committed).
- ``snapshot``: every row of the quality tables (and traces), to prove a bad input changed nothing.
- Each test starts and ends with no active run in its context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tracepond
from tests.tracking.conftest import read_all
from tracepond.tracking import runs

TABLES = (
    "assessments",
    "datasets",
    "dataset_versions",
    "dataset_records",
    "traces",
    "runs",
    "metrics",
)


@pytest.fixture(autouse=True)
def no_active_run() -> Iterator[None]:
    runs.reset()
    yield
    runs.reset()


@pytest.fixture
def store(store_path: Path) -> Iterator[str]:
    tracepond.configure(store=str(store_path))
    yield str(store_path)


@pytest.fixture
def make_trace(store: str) -> Callable[..., str]:
    def make(question: str = "how long do refunds take?", answer: str = "5 days") -> str:
        @tracepond.trace(name="answer")
        def run(question: str) -> str:
            return answer

        holder: dict[str, str] = {}

        @tracepond.trace(name="outer")
        def outer() -> None:
            holder["id"] = tracepond.get_current_trace_id() or ""
            run(question)

        outer()
        tracepond.flush()
        return holder["id"]

    return make


@pytest.fixture
def snapshot(store: str) -> Callable[[], dict[str, list[tuple[Any, ...]]]]:
    return lambda: read_all(store, TABLES)
