"""Writing spans to the store: one transaction per batch, ``traces`` kept consistent.

A batch (spans, root-span starts, and the count of spans dropped since the last batch) is written
in ONE transaction on a short-lived connection (:func:`tracepond.store.connection.open_store`):

1. the batch's spans are loaded as an Arrow table (or a temporary table when pyarrow is absent);
2. spans already in the store are removed from the batch (same trace_id and span_id; an OTLP
   retry or a replayed batch writes nothing twice). The lookup is limited to the batch's
   start-time range so DuckDB's zone maps skip old row groups;
3. new spans and their events are appended;
4. the ``traces`` rows of the batch's traces are read, merged with the batch
   (:mod:`tracepond.store.traces_fold`), deleted and inserted again;
5. dropped-span counts are appended to ``writer_stats``.

Either all of it lands or none of it does.

Public entry points: :func:`write_spans` (finished ``ReadableSpan`` objects, e.g. decoded from
OTLP), :func:`write_batch` (prepared records, used by the DuckDB span processor) and
:func:`record_dropped`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

from tracepond.store.connection import DEFAULT_TIMEOUT_S, open_store
from tracepond.store.rows import (
    EVENT_COLUMNS,
    SPAN_COLUMNS,
    S,
    SpanRecord,
    TraceStart,
    span_record,
)
from tracepond.store.traces_fold import TRACE_COLUMN_NAMES, TRACE_COLUMNS, merge, parts_of

try:  # pyarrow is in the `all` extra; without it batches go through temporary tables
    import pyarrow as pa
except ImportError:  # pragma: no cover - exercised by the no-pyarrow CI job only
    pa = None

_EPOCH = dt.datetime(1970, 1, 1)


def write_spans(
    store: str,
    spans: Iterable[Any],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> int:
    """Write finished OpenTelemetry ``ReadableSpan`` objects in one transaction.

    A span whose parent is absent is a trace's root. Returns how many spans were new (spans
    already in the store are skipped). Raises StoreLockedError when the store stays locked by
    another process for ``timeout_s``.
    """
    records = [span_record(span, is_root=span.parent is None) for span in spans]
    return write_batch(store, records, timeout_s=timeout_s)


def write_batch(
    store: str,
    records: Sequence[SpanRecord],
    starts: Sequence[TraceStart] = (),
    *,
    dropped: int = 0,
    source: str = "duckdb",
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> int:
    """Write one batch in one transaction; return the number of spans that were new."""
    with open_store(store, timeout_s=timeout_s) as conn:
        return write_in_transaction(conn, records, starts, dropped=dropped, source=source)


def write_in_transaction(
    conn: duckdb.DuckDBPyConnection,
    records: Sequence[SpanRecord],
    starts: Sequence[TraceStart] = (),
    *,
    dropped: int = 0,
    source: str = "duckdb",
) -> int:
    """Write one batch on an open read-write connection, in one transaction; return new spans."""
    conn.execute("BEGIN TRANSACTION")
    try:
        written = _write(conn, _unique(records), list(starts), dropped, source)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return written


def record_dropped(store: str, dropped: int, source: str, *, timeout_s: float = 1.0) -> None:
    """Add ``dropped`` spans lost by ``source`` to the store's writer_stats."""
    if dropped > 0:
        write_batch(store, [], dropped=dropped, source=source, timeout_s=timeout_s)


def _unique(records: Sequence[SpanRecord]) -> list[SpanRecord]:
    seen: dict[tuple[str, str], SpanRecord] = {}
    for record in records:
        seen.setdefault(record.key, record)
    return list(seen.values())


def _write(
    conn: duckdb.DuckDBPyConnection,
    records: list[SpanRecord],
    starts: list[TraceStart],
    dropped: int,
    source: str,
) -> int:
    if records:
        records = _drop_stored(conn, records)
    if records:
        _load(conn, "tp_new_spans", SPAN_COLUMNS, [r.row for r in records], time_columns=(6, 7))
        conn.execute("INSERT INTO spans BY NAME SELECT * FROM tp_new_spans")
        events = [event for record in records for event in record.events]
        if events:
            _load(conn, "tp_new_events", EVENT_COLUMNS, events, time_columns=(3,))
            conn.execute("INSERT INTO span_events BY NAME SELECT * FROM tp_new_events")
    if records or starts:
        _fold_traces(conn, records, starts)
    if dropped:
        conn.execute(
            "INSERT INTO writer_stats VALUES (?, ?, ?, ?)",
            [_utcnow(), source, os.getpid(), dropped],
        )
    for name in ("tp_new_spans", "tp_new_events", "tp_keys", "tp_traces"):
        _unload(conn, name)
    return len(records)


def _drop_stored(conn: duckdb.DuckDBPyConnection, records: list[SpanRecord]) -> list[SpanRecord]:
    """The records whose span is not in the store yet."""
    starts = [r.row[S["start_time"]] for r in records]
    keys = [(r.row[0], r.row[1]) for r in records]
    _load(conn, "tp_keys", (("trace_id", "VARCHAR"), ("span_id", "VARCHAR")), keys)
    stored = conn.execute(
        "SELECT s.trace_id, s.span_id FROM spans s SEMI JOIN tp_keys k "
        "ON s.trace_id = k.trace_id AND s.span_id = k.span_id "
        "WHERE s.start_time BETWEEN ? AND ?",
        [_timestamp(min(starts)), _timestamp(max(starts))],
    ).fetchall()
    if not stored:
        return records
    known = set(stored)
    return [r for r in records if r.key not in known]


def _fold_traces(
    conn: duckdb.DuckDBPyConnection, records: list[SpanRecord], starts: list[TraceStart]
) -> None:
    parts = parts_of(records, starts)
    _load(conn, "tp_keys_t", (("trace_id", "VARCHAR"),), [(tid,) for tid in parts])
    columns = ", ".join(
        f"epoch_us({name}) AS {name}" if kind == "TIMESTAMP" else name
        for name, kind in TRACE_COLUMNS
    )
    cursor = conn.execute(
        f"SELECT rowid, {columns} FROM traces WHERE trace_id IN (SELECT trace_id FROM tp_keys_t)"
    )
    stored = {row[1]: row for row in cursor.fetchall()}
    _unload(conn, "tp_keys_t")
    if stored:
        conn.execute(
            "DELETE FROM traces WHERE rowid IN (SELECT unnest(?::BIGINT[]))",
            [[row[0] for row in stored.values()]],
        )
    merged = []
    for trace_id, part in parts.items():
        old = stored.get(trace_id)
        old_row = dict(zip(TRACE_COLUMN_NAMES, old[1:], strict=True)) if old else None
        row = merge(old_row, part)
        merged.append(tuple(row[name] for name in TRACE_COLUMN_NAMES))
    _load(conn, "tp_traces", TRACE_COLUMNS, merged, time_columns=(2, 3))
    conn.execute("INSERT INTO traces BY NAME SELECT * FROM tp_traces")


# --- loading Python rows into DuckDB -------------------------------------------------------------

_ARROW_TYPES: dict[str, Any] = {}


def _arrow_type(kind: str) -> Any:
    if not _ARROW_TYPES:
        _ARROW_TYPES.update(
            VARCHAR=pa.string(),
            JSON=pa.string(),
            TIMESTAMP=pa.timestamp("us"),
            DOUBLE=pa.float64(),
            BIGINT=pa.int64(),
            BOOLEAN=pa.bool_(),
        )
    return _ARROW_TYPES[kind]


def _load(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[tuple[Any, ...]],
    time_columns: Sequence[int] = (),
) -> None:
    """Make ``rows`` queryable as table ``name`` for this connection (times in µs)."""
    if pa is not None:
        data = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
        arrays = [
            pa.array(values, type=_arrow_type(kind))
            for values, (_, kind) in zip(data, columns, strict=True)
        ]
        table = pa.Table.from_arrays(arrays, names=[column for column, _ in columns])
        conn.register(name, table)
        return
    definition = ", ".join(
        f"{column} {'BIGINT' if kind == 'TIMESTAMP' else kind}" for column, kind in columns
    )
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {name}_raw ({definition})")
    if rows:
        marks = ", ".join("?" for _ in columns)
        conn.executemany(f"INSERT INTO {name}_raw VALUES ({marks})", [list(row) for row in rows])
    select = ", ".join(
        f"make_timestamp({column}) AS {column}" if index in time_columns else column
        for index, (column, _) in enumerate(columns)
    )
    conn.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {select} FROM {name}_raw")


def _unload(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    if pa is not None:
        with contextlib.suppress(duckdb.Error):  # not registered in this batch
            conn.unregister(name)
        return
    conn.execute(f"DROP VIEW IF EXISTS temp.{name}")
    conn.execute(f"DROP TABLE IF EXISTS temp.{name}_raw")


def _timestamp(microseconds: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=microseconds)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
