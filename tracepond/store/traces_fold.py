"""Keeping a ``traces`` row consistent with its spans, batch after batch.

A trace's spans reach the store in several batches (children end before their parent, long
traces outlive a flush interval) and from several processes. Each batch is summarised per trace
into a :class:`TracePart` (counts and sums of the batch's *new* spans, the root if it arrived, the
trace-level fields in arrival order) and :func:`merge` folds it into the stored row:

- span_count, input/output tokens, cost_usd, error_count: added;
- start_time = earliest span start, end_time = latest span end;
- name, status, inputs, outputs, duration_ms, root_span_id: the root span's once it has arrived
  (the first root wins); before that the trace is ``in_progress`` if its root was seen starting,
  and takes its name from the earliest span seen;
- tags and metadata: JSON objects merged key by key, later batches winning; session, user, run,
  experiment, model and service: the latest non-empty value.

Duplicates (the same span written twice, as OTLP retries do) are removed by the writer before
this fold, so the sums count each span once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tracepond.store.rows import S, SpanRecord, TraceStart

TRACE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("start_time", "TIMESTAMP"),
    ("end_time", "TIMESTAMP"),
    ("duration_ms", "DOUBLE"),
    ("status", "VARCHAR"),
    ("experiment_id", "VARCHAR"),
    ("run_id", "VARCHAR"),
    ("model_id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("tags", "JSON"),
    ("metadata", "JSON"),
    ("span_count", "BIGINT"),
    ("input_tokens", "BIGINT"),
    ("output_tokens", "BIGINT"),
    ("inputs", "JSON"),
    ("outputs", "JSON"),
    ("root_span_id", "VARCHAR"),
    ("in_progress", "BOOLEAN"),
    ("error_count", "BIGINT"),
    ("service_name", "VARCHAR"),
    ("cost_usd", "DOUBLE"),
)
TRACE_COLUMN_NAMES = tuple(name for name, _ in TRACE_COLUMNS)
_FIELDS = ("run_id", "experiment_id", "model_id", "session_id", "user_id", "service_name")


@dataclass(slots=True)
class _Root:
    span_id: str
    name: str
    status: str
    duration_ms: float
    inputs: str | None
    outputs: str | None


@dataclass(slots=True)
class TracePart:
    """What one batch adds to one trace."""

    trace_id: str
    span_count: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    error_count: int = 0
    start_us: int | None = None
    end_us: int | None = None
    first_name: str | None = None  # the earliest-starting span's, until the root arrives
    root: _Root | None = None
    started: TraceStart | None = None
    fields: dict[str, str] = field(default_factory=dict)
    tags: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None

    def add_span(self, record: SpanRecord) -> None:
        row = record.row
        self.span_count += 1
        self.input_tokens = _add(self.input_tokens, row[S["input_tokens"]])
        self.output_tokens = _add(self.output_tokens, row[S["output_tokens"]])
        self.cost_usd = _add(self.cost_usd, row[S["cost_usd"]])
        if row[S["status"]] == "ERROR":
            self.error_count += 1
        start, end = row[S["start_time"]], row[S["end_time"]]
        if self.start_us is None or start < self.start_us:
            self.start_us = start
            self.first_name = row[S["name"]]
        self.end_us = end if self.end_us is None else max(self.end_us, end)
        if record.is_root and self.root is None:
            self.root = _Root(
                row[S["span_id"]],
                row[S["name"]],
                row[S["status"]],
                row[S["duration_ms"]],
                row[S["inputs"]],
                row[S["outputs"]],
            )
        for name in _FIELDS:
            value = row[S[name]]
            if value is not None:
                self.fields[name] = value
        self._merge_objects(record.tags, record.metadata)

    def add_start(self, start: TraceStart) -> None:
        if self.started is None:
            self.started = start
        if self.start_us is None or start.start_us < self.start_us:
            self.start_us = start.start_us
            self.first_name = start.name
        for name, value in start.trace_fields.items():
            self.fields.setdefault(name, value)
        self._merge_objects(start.tags, start.metadata)

    def _merge_objects(self, tags: dict[str, Any] | None, metadata: dict[str, Any] | None) -> None:
        if tags:
            self.tags = {**(self.tags or {}), **tags}
        if metadata:
            self.metadata = {**(self.metadata or {}), **metadata}


def _add(total: Any, value: Any) -> Any:
    if value is None:
        return total
    return value if total is None else total + value


def parts_of(records: list[SpanRecord], starts: list[TraceStart]) -> dict[str, TracePart]:
    """The batch summarised per trace (starts first: a root starts before anything ends)."""
    parts: dict[str, TracePart] = {}
    for start in starts:
        part = parts.get(start.trace_id)
        if part is None:
            part = parts[start.trace_id] = TracePart(start.trace_id)
        part.add_start(start)
    for record in records:
        trace_id = record.row[0]
        part = parts.get(trace_id)
        if part is None:
            part = parts[trace_id] = TracePart(trace_id)
        part.add_span(record)
    return parts


def _empty_row(trace_id: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(TRACE_COLUMN_NAMES)
    row.update(trace_id=trace_id, span_count=0, error_count=0, in_progress=False, status="UNSET")
    return row


def _merge_json(stored: str | None, new: dict[str, Any] | None) -> str | None:
    if not new:
        return stored
    old = orjson.loads(stored) if stored else {}
    merged = {**old, **new} if isinstance(old, dict) else new
    return orjson.dumps(merged, default=str).decode()


def merge(stored: dict[str, Any] | None, part: TracePart) -> dict[str, Any]:
    """The traces row after adding ``part`` to ``stored`` (None: the trace is new).

    Times are integer microseconds in both.
    """
    row = dict(stored) if stored is not None else _empty_row(part.trace_id)
    row["span_count"] = (row["span_count"] or 0) + part.span_count
    row["error_count"] = (row["error_count"] or 0) + part.error_count
    row["input_tokens"] = _add(row["input_tokens"], part.input_tokens)
    row["output_tokens"] = _add(row["output_tokens"], part.output_tokens)
    row["cost_usd"] = _add(row["cost_usd"], part.cost_usd)
    if part.start_us is not None and (
        row["start_time"] is None or part.start_us < row["start_time"]
    ):
        row["start_time"] = part.start_us
        if row["root_span_id"] is None:
            row["name"] = part.first_name
    if part.end_us is not None:
        row["end_time"] = (
            part.end_us if row["end_time"] is None else max(row["end_time"], part.end_us)
        )
    for name, value in part.fields.items():
        row[name] = value
    row["tags"] = _merge_json(row["tags"], part.tags)
    row["metadata"] = _merge_json(row["metadata"], part.metadata)
    _apply_root(row, part)
    return row


def _apply_root(row: dict[str, Any], part: TracePart) -> None:
    root_done = row["root_span_id"] is not None and not row["in_progress"]
    if part.root is not None and not root_done:
        root = part.root
        row.update(
            root_span_id=root.span_id,
            name=root.name,
            status=root.status,
            duration_ms=root.duration_ms,
            inputs=root.inputs,
            outputs=root.outputs,
            in_progress=False,
        )
        return
    if root_done:
        return
    if part.started is not None and row["root_span_id"] is None:
        row.update(root_span_id=part.started.span_id, name=part.started.name, in_progress=True)
    if row["name"] is None:
        row["name"] = part.first_name
    if row["start_time"] is not None and row["end_time"] is not None:
        row["duration_ms"] = (row["end_time"] - row["start_time"]) / 1000.0
    # No root yet: in progress shows UNSET; a trace whose root never comes here (its parent
    # lives in another service) shows ERROR when any span failed.
    row["status"] = "ERROR" if row["error_count"] and not row["in_progress"] else "UNSET"
