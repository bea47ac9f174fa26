"""How runs, models and the registry reach the store: short-lived connections, one per call.

DuckDB lets one process at a time hold a file read-write, so nothing here keeps a connection:
each call opens the store through `tracepond.store.connection` (which retries while another
process holds the lock), does its work in one transaction and closes. A conflict between two
threads of this process writing at once rolls the transaction back and runs it again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb

T = TypeVar("T")

_CONFLICT_RETRIES = 20


def resolve_store(store: str | None) -> str:
    """The store a call uses: the argument, else the configured one (ConfigError if none)."""
    from tracepond.store.connection import resolve_store as resolve

    return resolve(store)


def artifact_root(store: str) -> Path:
    """The folder beside the store where run artifacts and saved models live."""
    return Path(f"{store}.artifacts")


def utcnow() -> dt.datetime:
    """Now, as the naive UTC datetime DuckDB's TIMESTAMP columns hold."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def write(store: str, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run `work` in one write transaction: all of it lands, or none of it."""
    from tracepond.store.connection import open_store

    for attempt in range(_CONFLICT_RETRIES):
        with open_store(store) as conn:
            conn.execute("BEGIN TRANSACTION")
            try:
                result = work(conn)
                conn.execute("COMMIT")
                return result
            except duckdb.TransactionException:
                _rollback(conn)
                if attempt == _CONFLICT_RETRIES - 1:
                    raise
            except BaseException:
                _rollback(conn)
                raise
        time.sleep(0.005 * (attempt + 1))  # another thread of this process wrote the same rows
    raise AssertionError("unreachable")


def _rollback(conn: duckdb.DuckDBPyConnection) -> None:
    """Roll back what is open; a COMMIT that failed has already ended the transaction."""
    try:
        conn.execute("ROLLBACK")
    except duckdb.TransactionException as exc:
        if "no transaction is active" not in str(exc):
            raise


def read(store: str, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run `work` on a read-only connection to the store."""
    from tracepond.store.connection import read_connection

    with read_connection(store) as conn:
        return work(conn)


def fetch_dicts(
    conn: duckdb.DuckDBPyConnection, query: str, params: Any = None
) -> list[dict[str, Any]]:
    """Rows as dicts keyed by column name."""
    cursor = conn.execute(query, params if params is not None else [])
    columns = [d[0] for d in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def next_version(conn: duckdb.DuckDBPyConnection, table: str, name: str) -> int:
    """The next version number of ``name`` in ``table`` (model_versions, prompt_versions).

    Call it inside the write transaction that inserts that version: the store's single writer
    makes concurrent registrations take turns, so each gets the next number."""
    row = conn.execute(
        f"SELECT coalesce(max(version), 0) + 1 FROM {table} WHERE name = ?", [name]
    ).fetchone()
    return int(row[0]) if row else 1
