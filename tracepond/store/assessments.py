"""Assessments in the store: the one write path (:func:`apply_changes`) and the reads.

Every change to the ``assessments`` table goes through :func:`apply_changes`: new rows, rows
marked invalid (overridden), rows deleted. It takes plain data, checks it against the store and
applies it in one transaction, so a store engine that owns the file can run it in its owner
process unchanged. Before it looks for the traces, this process's span writers commit what they
hold: feedback on a trace that just ended finds it.

Deletion keeps MLflow's history rule: deleting an assessment that overrode another makes the
overridden one valid again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson

from tracepond.errors import AssessmentError, NotFoundError, log_internal_error
from tracepond.store.connection import flush_pending_writes, open_store

# The span writer's batch tables (Arrow when pyarrow is there): its helpers, not a second copy.
from tracepond.store.writer import Columns, _register, _table

FEEDBACK, EXPECTATION = "feedback", "expectation"
SOURCE_TYPES = ("HUMAN", "LLM_JUDGE", "CODE")


@dataclass(frozen=True)
class AssessmentSource:
    """Who made an assessment (MLflow's shape): ``source_type`` and ``source_id``."""

    source_type: str
    source_id: str | None = None


@dataclass(frozen=True)
class Assessment:
    """One row of ``assessments``; ``value`` is the Python value that was logged."""

    assessment_id: str
    trace_id: str
    name: str
    kind: str
    value: Any
    source_type: str
    source_id: str | None = None
    span_id: str | None = None
    rationale: str | None = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    create_time: dt.datetime | None = None
    last_update_time: dt.datetime | None = None
    valid: bool = True
    overrides: str | None = None

    @property
    def source(self) -> AssessmentSource:
        return AssessmentSource(self.source_type, self.source_id)

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in COLUMNS}
        for key in ("create_time", "last_update_time"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


COLUMNS = (
    "assessment_id",
    "trace_id",
    "span_id",
    "name",
    "kind",
    "value",
    "source_type",
    "source_id",
    "rationale",
    "error",
    "metadata",
    "run_id",
    "create_time",
    "last_update_time",
    "valid",
    "overrides",
)


def encode_value(name: str, value: Any) -> str:
    """The JSON text of a value; AssessmentError naming the assessment when it has none."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError as error:
        raise AssessmentError(
            f"the value of assessment {name!r} cannot be stored as JSON "
            f"({type(value).__name__}: {error}); log a bool, number, string, list or dict"
        ) from None


@dataclass(frozen=True)
class Changes:
    """What one call changes, applied all together or not at all."""

    insert: Sequence[Assessment] = ()
    invalidate: Sequence[str] = ()  # assessment ids overridden by a row of `insert`
    delete: Sequence[str] = ()
    trace_id: str | None = None  # when set, every id above must belong to this trace
    # The caller made (or read) these traces itself, as evaluate() does: they are not looked up,
    # so the write does not wait for this process's span writer to commit them first.
    known_traces: bool = False


# Called after a commit with the rows inserted (the OTLP exporter sends them as events).
Listener = Callable[[Sequence[Assessment]], None]
_listeners: list[Listener] = []
_listeners_lock = threading.Lock()


def add_listener(listener: Listener) -> None:
    with _listeners_lock:
        if listener not in _listeners:
            _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def apply_changes(store: str, changes: Changes) -> None:
    """THE write path of assessments: check, then apply in one transaction.

        Raises NotFoundError (nothing written) for a trace id or an assessment id the store does not
        have (unless ``known_traces``). Encoding happens before the store is opened, so a bad value
    changes nothing either.
    """
    rows = [_row(a) for a in changes.insert]
    if not changes.known_traces:
        flush_pending_writes(store)
    with open_store(store) as conn:
        conn.execute("BEGIN TRANSACTION")
        try:
            _check(conn, changes)
            _delete(conn, changes.delete)
            if changes.invalidate:
                conn.execute(
                    "UPDATE assessments SET valid = false, last_update_time = ? "
                    "WHERE assessment_id IN (SELECT unnest(?::VARCHAR[]))",
                    [_utcnow(), list(changes.invalidate)],
                )
            _insert(conn, rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    _notify(changes.insert)


def _check(conn: duckdb.DuckDBPyConnection, changes: Changes) -> None:
    trace_ids = (
        [] if changes.known_traces else list(dict.fromkeys(a.trace_id for a in changes.insert))
    )
    found = _present(conn, "traces", "trace_id", trace_ids)
    missing = [t for t in trace_ids if t not in found]
    if missing:
        raise NotFoundError(
            f"no trace with id {', '.join(map(repr, missing[:5]))}"
            f"{' (and others)' if len(missing) > 5 else ''}; no assessment was written"
        )
    ids = list(dict.fromkeys([*changes.invalidate, *changes.delete]))
    if not ids:
        return
    rows = conn.execute(
        "SELECT assessment_id, trace_id FROM assessments "
        "WHERE assessment_id IN (SELECT unnest(?::VARCHAR[]))",
        [ids],
    ).fetchall()
    owners = dict(rows)
    for assessment_id in ids:
        owner = owners.get(assessment_id)
        if owner is None or (changes.trace_id is not None and owner != changes.trace_id):
            where = f" on trace {changes.trace_id!r}" if changes.trace_id else ""
            raise NotFoundError(
                f"no assessment with id {assessment_id!r}{where}; nothing was changed"
            )


def _present(conn: duckdb.DuckDBPyConnection, table: str, column: str, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    query = f"SELECT {column} FROM {table} WHERE {column} IN (SELECT unnest(?::VARCHAR[]))"
    return {row[0] for row in conn.execute(query, [ids]).fetchall()}


def _delete(conn: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> None:
    if not ids:
        return
    # What the deleted rows had overridden is the current assessment again (MLflow's rule).
    conn.execute(
        "UPDATE assessments SET valid = true, last_update_time = ? WHERE assessment_id IN "
        "(SELECT overrides FROM assessments WHERE assessment_id IN (SELECT unnest(?::VARCHAR[])))",
        [_utcnow(), list(ids)],
    )
    conn.execute(
        "DELETE FROM assessments WHERE assessment_id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)]
    )


def _row(assessment: Assessment) -> tuple[Any, ...]:
    """The row in COLUMNS order: value and metadata as JSON text, times in integer µs (UTC)."""
    a = assessment
    return (
        a.assessment_id, a.trace_id, a.span_id, a.name, a.kind, encode_value(a.name, a.value),
        a.source_type, a.source_id, a.rationale, a.error,
        encode_value(f"{a.name} metadata", a.metadata or {}), a.run_id,
        _micros(a.create_time), _micros(a.last_update_time or a.create_time), a.valid, a.overrides,
    )  # fmt: skip


def _micros(moment: dt.datetime | None) -> int:
    if moment is None:
        moment = dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_KINDS: Columns = tuple(
    (name, {"valid": "BOOLEAN", "create_time": "TIMESTAMP", "last_update_time": "TIMESTAMP"}.get(
        name, "VARCHAR"))
    for name in COLUMNS
)  # fmt: skip
_TIMES = (COLUMNS.index("create_time"), COLUMNS.index("last_update_time"))


def _insert(conn: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """Insert the rows as one table, built as the span writer builds its batches (Arrow when
    pyarrow is there): one statement however many rows."""
    if not rows:
        return
    new = _table(_KINDS, rows, _TIMES)
    _register(conn, "tp_new_assessments", new)
    try:
        conn.execute(
            f"INSERT INTO assessments ({', '.join(COLUMNS)}) "
            f"SELECT {', '.join(COLUMNS)} FROM tp_new_assessments"
        )
    finally:
        with contextlib.suppress(duckdb.Error):
            if new.arrow is not None:
                conn.unregister("tp_new_assessments")
            else:
                conn.execute("DROP VIEW IF EXISTS tp_new_assessments")
                conn.execute("DROP TABLE IF EXISTS tp_new_assessments_raw")


def _notify(inserted: Sequence[Assessment]) -> None:
    if not inserted:
        return
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(inserted)
        except Exception:
            log_internal_error("assessment listener")


# --- reading ---------------------------------------------------------------------------------


def read_assessments(
    conn: duckdb.DuckDBPyConnection, trace_ids: Iterable[str]
) -> dict[str, list[Assessment]]:
    """The assessments of these traces, oldest first; {} on a store without the table."""
    ids = list(dict.fromkeys(trace_ids))
    if not ids:
        return {}
    try:
        cursor = conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM assessments "
            "WHERE trace_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY create_time, assessment_id",
            [ids],
        )
    except duckdb.CatalogException:  # a Parquet export or a store not yet migrated
        return {}
    grouped: dict[str, list[Assessment]] = {}
    for row in cursor.fetchall():
        assessment = from_row(dict(zip(COLUMNS, row, strict=True)))
        grouped.setdefault(assessment.trace_id, []).append(assessment)
    return grouped


def from_row(row: dict[str, Any]) -> Assessment:
    data = dict(row)
    data["value"] = None if data["value"] is None else orjson.loads(data["value"])
    data["metadata"] = orjson.loads(data["metadata"]) if data.get("metadata") else {}
    for key in ("create_time", "last_update_time"):
        if isinstance(data[key], dt.datetime) and data[key].tzinfo is None:
            data[key] = data[key].replace(tzinfo=dt.timezone.utc)
    return Assessment(**data)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
