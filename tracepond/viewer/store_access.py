"""The viewer's only door to the store's query API (OTLP ingest writes through the DuckDB
exporter, :mod:`tracepond.viewer.ingest`).

Keeping every call to ``tracepond.store`` in this one module makes the direction of data flow
visible (store -> viewer) and keeps the rest of the viewer free of the store's signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracepond.store.connection import check_store as check_store  # used by the server
from tracepond.store.filter import compile_filter as _compile_filter
from tracepond.store.query import sql


def _sql(
    store: str,
    statement: str,
    params: Sequence[Any] | None,
    timeout_s: float | None = None,
    max_rows: int | None = None,
) -> Any:
    if timeout_s is None:
        return sql(statement, params=list(params or []), store=store, max_rows=max_rows)
    return sql(
        statement, params=list(params or []), store=store, timeout_s=timeout_s, max_rows=max_rows
    )


def fetch_columns(
    store: str, statement: str, params: Sequence[Any]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    result = _sql(store, statement, params)
    return list(result.columns), result.fetchall()


def fetch_column_lists(store: str, statement: str, params: Sequence[Any]) -> dict[str, list[Any]]:
    """The result as {column: [values]}, straight from Arrow when pyarrow is installed."""
    result = _sql(store, statement, params)
    names = list(result.columns)
    try:
        table = result.arrow()
    except ImportError:  # no pyarrow: the store materialized Python rows instead
        rows = result.fetchall()
        return {name: [row[i] for row in rows] for i, name in enumerate(names)}
    return {name: table.column(i).to_pylist() for i, name in enumerate(names)}


def fetch_rows(store: str, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = _sql(store, statement, params).fetchall()
    return rows


def fetch_dicts(store: str, statement: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    columns, rows = fetch_columns(store, statement, params)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def user_sql(
    store: str, statement: str, limit: int, timeout_s: float
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A statement typed by the user: one statement only, read-only and time-limited by the
    query API, and at most ``limit`` rows fetched (the limit goes into the query plan, so rows
    past it are never produced)."""
    result = _sql(store, statement, None, timeout_s, max_rows=int(limit))
    return list(result.columns), result.fetchall()


def compile_filter(text: str) -> tuple[str, list[Any]]:
    """The search_traces filter language -> a WHERE clause over ``traces`` and its parameters."""
    where, params = _compile_filter(text)
    return where, list(params)
