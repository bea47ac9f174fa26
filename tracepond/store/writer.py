"""Writing spans to the store: one transaction per batch, ``traces`` kept consistent.

A batch is first *prepared* without touching the store (:func:`prepare_batch`: rows become Arrow
tables, or row lists when pyarrow is absent), so the file stays locked only for the SQL. Then
:func:`write_prepared` runs ONE transaction on a short-lived connection:

1. spans already in the store are left out (same trace_id and span_id: an OTLP retry or a
   replayed batch writes nothing twice). The lookup is limited to the batch's start-time range,
   so DuckDB's zone maps skip old row groups, and the usual batch without duplicates is not
   copied;
2. new spans and their events are appended;
3. the ``traces`` rows of the batch's traces are folded with the new spans in SQL
   (:mod:`tracepond.store.traces_fold`): old rows deleted, merged rows inserted;
4. dropped-span counts are appended to ``writer_stats``.

Either all of it lands or none of it does.

Public entry points: :func:`write_spans` (finished ``ReadableSpan`` objects, e.g. decoded from
OTLP), :func:`write_batch` (prepared records, as the DuckDB span processor makes them) and
:func:`record_dropped`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson

from tracepond.store.connection import DEFAULT_TIMEOUT_S, open_store
from tracepond.store.prompt_links import INSERT_LINKS, LINK_COLUMNS, link_rows
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
except ImportError:  # pragma: no cover - exercised by a subprocess test that hides pyarrow
    pa = None

_EPOCH = dt.datetime(1970, 1, 1)
_SPAN_TIMES = (S["start_time"], S["end_time"])
_START = S["start_time"]

Columns = Sequence[tuple[str, str]]


@dataclass
class _Table:
    columns: Columns
    rows: list[tuple[Any, ...]]
    time_columns: Sequence[int] = ()
    sequence: str | None = None
    arrow: Any = None  # the same rows as a pyarrow.Table, when pyarrow is installed


@dataclass
class PreparedBatch:
    """A batch ready to be written: everything done that does not need the store."""

    tables: dict[str, _Table] = field(default_factory=dict)
    span_count: int = 0
    window: tuple[dt.datetime, dt.datetime] | None = None  # the spans' start-time range
    has_traces: bool = False
    dropped: int = 0
    source: str = "duckdb"


def write_spans(store: str, spans: Iterable[Any], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> int:
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
    batch = prepare_batch(records, starts, dropped=dropped, source=source)
    with open_store(store, timeout_s=timeout_s) as conn:
        return write_prepared(conn, batch)


def record_dropped(store: str, dropped: int, source: str, *, timeout_s: float = 1.0) -> None:
    """Add ``dropped`` spans lost by ``source`` to the store's writer_stats."""
    if dropped > 0:
        write_batch(store, [], dropped=dropped, source=source, timeout_s=timeout_s)


def prepare_batch(
    records: Sequence[SpanRecord],
    starts: Sequence[TraceStart] = (),
    *,
    dropped: int = 0,
    source: str = "duckdb",
) -> PreparedBatch:
    """Everything about a batch that does not need the store (so the lock is held briefly)."""
    records = _unique(records)
    batch = PreparedBatch(dropped=dropped, source=source, span_count=len(records))
    batch.has_traces = bool(records or starts)
    if records:
        begins = [r.row[_START] for r in records]
        batch.window = (_timestamp(min(begins)), _timestamp(max(begins)))
    if not batch.has_traces:
        return batch
    batch.tables["tp_batch"] = _table(
        ROW_COLUMNS, [r.row for r in records], _SPAN_TIMES, sequence="tp_seq"
    )
    events = [event for record in records for event in record.events]
    if events:
        batch.tables["tp_events"] = _table(EVENT_COLUMNS, events, (3,))
    start_rows = [
        (s.trace_id, s.span_id, s.name, s.start_us, *(s.trace_fields.get(f) for f in START_FIELDS))
        for s in starts
    ]
    batch.tables["tp_starts"] = _table(START_COLUMNS, start_rows, (3,))
    batch.tables["tp_objects"] = _table(OBJECT_COLUMNS, _object_rows(records, starts))
    links = link_rows(records)
    if links:  # prompts loaded inside these traces (tracepond.load_prompt)
        batch.tables["tp_prompts"] = _table(LINK_COLUMNS, links)
    return batch


def write_prepared(conn: duckdb.DuckDBPyConnection, batch: PreparedBatch) -> int:
    """Write a prepared batch on an open read-write connection, in ONE transaction; return the
    number of spans that were new."""
    conn.execute("BEGIN TRANSACTION")
    try:
        for name, table in batch.tables.items():
            _register(conn, name, table)
        written = _insert_new_spans(conn, batch) if batch.span_count else 0
        if written and "tp_prompts" in batch.tables:
            conn.execute(INSERT_LINKS)
        if batch.has_traces:
            if not batch.span_count:
                conn.execute("CREATE OR REPLACE TEMP VIEW tp_new AS SELECT * FROM tp_batch")
            for statement in FOLD_STATEMENTS:
                conn.execute(statement)
        if batch.dropped:
            conn.execute(
                "INSERT INTO writer_stats VALUES (?, ?, ?, ?)",
                [_utcnow(), batch.source, os.getpid(), batch.dropped],
            )
        conn.execute("COMMIT")
    except BaseException:
        # A COMMIT that failed (a full disk) has already ended the transaction: the error that
        # stopped the write is the one to raise, not the ROLLBACK's "no transaction".
        with contextlib.suppress(duckdb.TransactionException):
            conn.execute("ROLLBACK")
        raise
    finally:
        _cleanup(conn, batch)
    return written


def _unique(records: Sequence[SpanRecord]) -> list[SpanRecord]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for record in records:
        key = (record.row[0], record.row[1])
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return unique


def _object_rows(
    records: Sequence[SpanRecord], starts: Sequence[TraceStart]
) -> list[tuple[Any, ...]]:
    """Per trace, the batch's tags and metadata merged in arrival order (later wins)."""
    tags: dict[str, dict[str, Any]] = {}
    metadata: dict[str, dict[str, Any]] = {}
    for start in starts:  # a root starts before any span of its trace ends
        merge_objects(tags, start.trace_id, start.tags)
        merge_objects(metadata, start.trace_id, start.metadata)
    for record in records:
        if record.tags or record.metadata:
            merge_objects(tags, record.row[0], record.tags)
            merge_objects(metadata, record.row[0], record.metadata)
    return [
        (trace_id, _json_or_none(tags.get(trace_id)), _json_or_none(metadata.get(trace_id)))
        for trace_id in tags.keys() | metadata.keys()
    ]


def _insert_new_spans(conn: duckdb.DuckDBPyConnection, batch: PreparedBatch) -> int:
    """Append the batch's spans that the store does not have yet, with their events.

    A stored duplicate has the same start time, so the lookup reads only the row groups whose
    start times overlap the batch's (DuckDB's zone maps skip the rest)."""
    stored = "SELECT trace_id, span_id FROM spans WHERE start_time BETWEEN ? AND ?"
    window = list(batch.window or ())
    duplicates = conn.execute(
        f"SELECT count(*) FROM tp_batch b SEMI JOIN ({stored}) s "
        "ON s.trace_id = b.trace_id AND s.span_id = b.span_id",
        window,
    ).fetchall()[0][0]
    if duplicates:
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE tp_deduplicated AS SELECT * FROM tp_batch b "
            f"ANTI JOIN ({stored}) s ON s.trace_id = b.trace_id AND s.span_id = b.span_id",
            window,
        )
        conn.execute("CREATE OR REPLACE TEMP VIEW tp_new AS SELECT * FROM tp_deduplicated")
    else:  # the usual case: no copy
        conn.execute("CREATE OR REPLACE TEMP VIEW tp_new AS SELECT * FROM tp_batch")
    written = batch.span_count - int(duplicates)
    if written:
        conn.execute("INSERT INTO spans BY NAME SELECT * EXCLUDE (tp_is_root, tp_seq) FROM tp_new")
        if "tp_events" in batch.tables:
            conn.execute(
                "INSERT INTO span_events BY NAME SELECT e.* FROM tp_events e SEMI JOIN tp_new n "
                "ON e.trace_id = n.trace_id AND e.span_id = n.span_id"
            )
    return written


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


# --- Python rows as DuckDB tables ------------------------------------------------------------------

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


def _table(
    columns: Columns,
    rows: list[tuple[Any, ...]],
    time_columns: Sequence[int] = (),
    sequence: str | None = None,
) -> _Table:
    """Rows (times in integer µs) as a table to register; built as Arrow when possible."""
    table = _Table(columns, rows, time_columns, sequence)
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
        table.arrow = pa.Table.from_arrays(arrays, names=names)
        table.rows = []  # the Arrow copy is enough
    return table


def _register(conn: duckdb.DuckDBPyConnection, name: str, table: _Table) -> None:
    if table.arrow is not None:
        conn.register(name, table.arrow)
        return
    columns, rows = table.columns, table.rows
    if table.sequence is not None:
        rows = [(*row, index) for index, row in enumerate(rows)]
        columns = (*columns, (table.sequence, "BIGINT"))
    definition = ", ".join(
        f"{column} {'BIGINT' if kind == 'TIMESTAMP' else kind}" for column, kind in columns
    )
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {name}_raw ({definition})")
    if rows:
        marks = ", ".join("?" for _ in columns)
        conn.executemany(f"INSERT INTO {name}_raw VALUES ({marks})", [list(row) for row in rows])
    select = ", ".join(
        f"make_timestamp({column}) AS {column}" if index in table.time_columns else column
        for index, (column, _) in enumerate(columns)
    )
    conn.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {select} FROM {name}_raw")


def _cleanup(conn: duckdb.DuckDBPyConnection, batch: PreparedBatch) -> None:
    """Drop this batch's temporary objects (the connection may be reused for the next one)."""
    with contextlib.suppress(duckdb.Error):
        conn.execute("DROP VIEW IF EXISTS tp_new")
        conn.execute("DROP TABLE IF EXISTS tp_deduplicated")
    for name, table in batch.tables.items():
        with contextlib.suppress(duckdb.Error):
            if table.arrow is not None:
                conn.unregister(name)
            else:
                conn.execute(f"DROP VIEW IF EXISTS {name}")
                conn.execute(f"DROP TABLE IF EXISTS {name}_raw")


def _timestamp(microseconds: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=microseconds)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
