"""The viewer's only door to the store: the query API for reads, the writer for OTLP ingest.

Keeping every call to ``tracepond.store`` in this one module makes the direction of data flow
visible (store -> viewer) and keeps the rest of the viewer free of the store's signatures.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any


def has_module(name: str) -> bool:
    """True when ``tracepond.store.<name>`` exists in this install."""
    return importlib.util.find_spec(f"tracepond.store.{name}") is not None


def _sql(store: str, statement: str, params: Sequence[Any] | None, timeout_s: float | None = None) -> Any:
    from tracepond.store.query import sql

    if timeout_s is None:
        return sql(statement, params=list(params or []), store=store)
    return sql(statement, params=list(params or []), store=store, timeout_s=timeout_s)


def fetch_columns(store: str, statement: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    result = _sql(store, statement, params)
    return list(result.columns), result.fetchall()


def fetch_rows(store: str, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = _sql(store, statement, params).fetchall()
    return rows


def fetch_dicts(store: str, statement: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    columns, rows = fetch_columns(store, statement, params)
    return [dict(zip(columns, row)) for row in rows]


def user_sql(store: str, statement: str, limit: int, timeout_s: float) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A statement typed by the user: read-only and time-limited by the query API."""
    result = _sql(store, statement, None, timeout_s)
    return list(result.columns), result.fetchmany(limit) if hasattr(result, "fetchmany") else result.fetchall()[:limit]


def compile_filter(text: str) -> tuple[str, list[Any]]:
    """The search_traces filter language -> a WHERE clause over ``traces`` and its parameters."""
    from tracepond.store.filter import compile_filter as compile_

    sql, params = compile_(text)
    return sql, list(params)


def write_spans(store: str, spans: Sequence[Any]) -> None:
    """Write finished SDK spans as one batch through the store's writer."""
    from tracepond.store.rows import span_record
    from tracepond.store.writer import write_batch

    records = [span_record(span, is_root=span.parent is None) for span in spans]
    write_batch(store, records)
