"""Writing spans to the store: one transaction per batch, ``traces`` kept consistent.

A batch (spans, root-span starts, and the count of spans dropped since the last batch) is written
in ONE transaction on a short-lived connection (:func:`tracepond.store.connection.open_store`):

1. the batch's spans are loaded as an Arrow table (or a temporary table when pyarrow is absent);
2. spans already in the store are left out (same trace_id and span_id: an OTLP retry or a
   replayed batch writes nothing twice). The lookup is limited to the batch's start-time range
   so DuckDB's zone maps skip old row groups;
3. new spans and their events are appended;
4. the ``traces`` rows of the batch's traces are folded with the new spans in SQL
   (:mod:`tracepond.store.traces_fold`): old rows deleted, merged rows inserted;
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
import orjson

from tracepond.store.connection import DEFAULT_TIMEOUT_S, open_store
from tracepond.store.rows import EVENT_COLUMNS, ROW_COLUMNS, S, SpanRecord, TraceStart, span_record
from tracepond.store.traces_fold import (
    FOLD_STATEMENTS,
    OBJECT_COLUMNS,
    START_COLUMNS,
    START_FIELDS,
    merge_objects,
)

try:  # pyarrow is in the `all` extra; without it batches go through temporary tables
    import pyarrow as pa
except ImportError:  # pragma: no cover - exercised by the no-pyarrow CI job only
    pa = None

_EPOCH = dt.datetime(1970, 1, 1)
_BATCH_COLUMNS = ROW_COLUMNS
_SPAN_TIMES = (S["start_time"], S["end_time"])
S_START = S["start_time"]


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
    seen: set[tuple[str, str]] = set()
    unique = []
    for record in records:
        key = (record.row[0], record.row[1])
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return unique


def _write(
    conn: duckdb.DuckDBPyConnection,
    records: list[SpanRecord],
    starts: list[TraceStart],
    dropped: int,
    source: str,
) -> int:
    written = _insert_new_spans(conn, records) if records else 0
    if records or starts:
        _load_trace_inputs(conn, records, starts)
        for statement in FOLD_STATEMENTS:
            conn.execute(statement)
    if dropped:
        conn.execute(
            "INSERT INTO writer_stats VALUES (?, ?, ?, ?)",
            [_utcnow(), source, os.getpid(), dropped],
        )
    conn.execute("DROP VIEW IF EXISTS tp_new")
    conn.execute("DROP TABLE IF EXISTS tp_deduplicated")
    for name in ("tp_batch", "tp_events", "tp_starts", "tp_objects"):
        _unload(conn, name)
    return written


def _insert_new_spans(conn: duckdb.DuckDBPyConnection, records: list[SpanRecord]) -> int:
    """Append the batch's spans that the store does not have yet, with their events.

    A stored duplicate has the same start time, so the lookup reads only the row groups whose
    start times overlap the batch's (DuckDB's zone maps skip the rest)."""
    rows = [r.row for r in records]
    _load(conn, "tp_batch", _BATCH_COLUMNS, rows, time_columns=_SPAN_TIMES, sequence="tp_seq")
    starts = [r.row[S_START] for r in records]
    window = [_timestamp(min(starts)), _timestamp(max(starts))]
    stored = "SELECT trace_id, span_id FROM spans WHERE start_time BETWEEN ? AND ?"
    duplicates = conn.execute(
        f"SELECT count(*) FROM tp_batch b SEMI JOIN ({stored}) s "
        "ON s.trace_id = b.trace_id AND s.span_id = b.span_id",
        window,
    ).fetchall()[0][0]
    if duplicates:
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE tp_deduplicated AS SELECT * FROM tp_batch b "
            f"ANTI JOIN ({stored}) s ON s.trace_id = b.trace_id AND s.span_id = b.span_id",
            window,
        )
        conn.execute("CREATE OR REPLACE TEMP VIEW tp_new AS SELECT * FROM tp_deduplicated")
    else:  # the usual case: no copy
        conn.execute("CREATE OR REPLACE TEMP VIEW tp_new AS SELECT * FROM tp_batch")
    written = int(conn.execute("SELECT count(*) FROM tp_new").fetchall()[0][0])
    if written:
        conn.execute("INSERT INTO spans BY NAME SELECT * EXCLUDE (tp_is_root, tp_seq) FROM tp_new")
        events = [event for record in records for event in record.events]
        if events:
            _load(conn, "tp_events", EVENT_COLUMNS, events, time_columns=(3,))
            conn.execute(
                "INSERT INTO span_events BY NAME SELECT e.* FROM tp_events e SEMI JOIN tp_new n "
                "ON e.trace_id = n.trace_id AND e.span_id = n.span_id"
            )
    return written


def _load_trace_inputs(
    conn: duckdb.DuckDBPyConnection, records: list[SpanRecord], starts: list[TraceStart]
) -> None:
    """tp_new (when no spans), tp_starts and tp_objects: what FOLD_STATEMENTS read."""
    if not records:
        _load(conn, "tp_batch", _BATCH_COLUMNS, [], time_columns=_SPAN_TIMES, sequence="tp_seq")
        conn.execute("CREATE OR REPLACE TEMP VIEW tp_new AS SELECT * FROM tp_batch")
    start_rows = [
        (s.trace_id, s.span_id, s.name, s.start_us, *(s.trace_fields.get(f) for f in START_FIELDS))
        for s in starts
    ]
    _load(conn, "tp_starts", START_COLUMNS, start_rows, time_columns=(3,))
    tags: dict[str, dict[str, Any]] = {}
    metadata: dict[str, dict[str, Any]] = {}
    for start in starts:  # a root starts before any span of its trace ends
        merge_objects(tags, start.trace_id, start.tags)
        merge_objects(metadata, start.trace_id, start.metadata)
    for record in records:
        merge_objects(tags, record.row[0], record.tags)
        merge_objects(metadata, record.row[0], record.metadata)
    object_rows = [
        (trace_id, _json_or_none(tags.get(trace_id)), _json_or_none(metadata.get(trace_id)))
        for trace_id in tags.keys() | metadata.keys()
    ]
    _load(conn, "tp_objects", OBJECT_COLUMNS, object_rows)


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


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
    sequence: str | None = None,
) -> None:
    """Make ``rows`` queryable as table ``name`` for this connection (times in µs), with a
    ``sequence`` column numbering the rows when asked."""
    if pa is not None:
        data = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
        arrays = [
            pa.array(values, type=_arrow_type(kind))
            for values, (_, kind) in zip(data, columns, strict=True)
        ]
        names = [column for column, _ in columns]
        if sequence is not None:
            arrays.append(pa.array(range(len(rows)), type=pa.int64()))
            names.append(sequence)
        conn.register(name, pa.Table.from_arrays(arrays, names=names))
        return
    if sequence is not None:
        rows = [(*row, index) for index, row in enumerate(rows)]
        columns = (*columns, (sequence, "BIGINT"))
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
