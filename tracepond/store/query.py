"""The trace query API: ``search_traces``, ``get_trace`` and read-only ``sql``.

Every read goes through :func:`tracepond.store.connection.read_connection`: a short-lived
read-only connection that cannot write the store, touch files, attach databases, load extensions
or change settings. ``sql()`` runs user SQL on such a connection with a time limit (the
connection is interrupted when it runs out). Each function takes ``store=`` (a path; default: the
configured store).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import duckdb
import orjson

from tracepond.errors import QueryError
from tracepond.store.assessments import Assessment, read_assessments
from tracepond.store.connection import is_lake, read_connection, resolve_store
from tracepond.store.filter import compile_filter, compile_order_by, uses_spans
from tracepond.store.trace import Span, SpanEvent, Trace, TraceInfo, TraceList, span_tree

try:
    import pyarrow as pa
except ImportError:  # pragma: no cover - pyarrow comes with the `all` extra
    pa = None

DEFAULT_SQL_TIMEOUT_S = 30.0
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_EVENT_MARGIN = dt.timedelta(minutes=1)
StorePath = str | os.PathLike[str] | None


# --- sql() --------------------------------------------------------------------------------------


class SqlResult:
    """The materialized result of :func:`sql`: ``.fetchall()``, ``.df()``, ``.arrow()``,
    ``.columns``; its repr is a small table."""

    def __init__(
        self, columns: list[str], table: Any = None, rows: list[tuple[Any, ...]] | None = None
    ):
        self.columns = columns
        self._table = table
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            columns = [column.to_pylist() for column in self._table.columns]
            self._rows = list(zip(*columns, strict=True)) if columns else []
        return list(self._rows)

    def arrow(self) -> Any:
        """The result as a ``pyarrow.Table`` (needs pyarrow)."""
        if self._table is None:
            if pa is None:
                raise ImportError('SqlResult.arrow() needs pyarrow: pip install "tracepond[all]"')
            rows = self._rows or []
            self._table = pa.table(
                {c: [row[i] for row in rows] for i, c in enumerate(self.columns)}
            )
        return self._table

    def df(self) -> Any:
        """The result as a pandas DataFrame (needs pandas)."""
        if self._table is not None:
            return self._table.to_pandas()
        import pandas

        return pandas.DataFrame(self.fetchall(), columns=self.columns)

    def __len__(self) -> int:
        return self._table.num_rows if self._rows is None else len(self._rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())

    def __repr__(self) -> str:
        return format_table(self.columns, self.fetchall()[:20], total=len(self))


def format_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], total: int | None = None
) -> str:
    """A plain-text table of at most the given rows, cells cut at 40 characters."""

    def cell(value: Any) -> str:
        text = "NULL" if value is None else str(value)
        text = text.replace("\n", " ")
        return text if len(text) <= 40 else text[:39] + "…"

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True))

    out = [line(list(columns)), "-+-".join("-" * w for w in widths), *(line(r) for r in cells)]
    total = len(rows) if total is None else total
    more = f" (showing {len(rows)})" if total > len(rows) else ""
    out.append(f"({total} row{'s' if total != 1 else ''}){more}")
    return "\n".join(out)


def sql(
    query: str,
    params: Sequence[Any] | dict[str, Any] | None = None,
    *,
    store: StorePath = None,
    timeout_s: float = DEFAULT_SQL_TIMEOUT_S,
    max_rows: int | None = None,
) -> SqlResult:
    """Run read-only SQL over the store's tables (traces, spans, span_events, runs, ...).

    Statements that write, ATTACH, COPY ... TO, INSTALL/LOAD, read files, or change settings are
    refused with QueryError and the store stays as it was. A query running longer than
    ``timeout_s`` is interrupted (QueryError). With ``max_rows``, the text must be one statement
    and at most that many rows are fetched: the rest are never computed or materialized.
    """
    if not isinstance(query, str) or not query.strip():
        raise QueryError("sql() needs a SQL statement as a non-empty string")
    if max_rows is not None and (
        isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0
    ):
        raise QueryError(f"max_rows must be a non-negative integer, not {max_rows!r}")
    path = resolve_store(store)
    with read_connection(path) as shared, _own_session(shared, path) as conn:
        running = threading.Lock()  # held while this query runs: a late timer interrupts nothing
        running.acquire()

        def stop() -> None:
            if running.locked():
                conn.interrupt()

        timer = threading.Timer(timeout_s, stop)
        timer.daemon = True
        timer.start()
        try:
            if max_rows is not None:
                _check_one_statement(conn, query)
            return _materialize(conn, query, params, max_rows)
        except duckdb.InterruptException:
            raise QueryError(f"the query ran longer than {timeout_s:g} s and was stopped") from None
        except duckdb.Error as error:
            raise _query_error(error) from None
        finally:
            running.release()
            timer.cancel()


def _own_session(shared: duckdb.DuckDBPyConnection, path: str) -> Any:
    """A cursor of its own for a user's query: a TEMP view or macro, a SET or a BEGIN lives in
    the cursor's session and ends with it, so no query leaves state for the next. A Parquet
    lake's tables are registered on its own connection, which a cursor would not see, so a
    lake's query runs on that connection (isolating it too is left for the store service)."""
    return contextlib.nullcontext(shared) if is_lake(path) else shared.cursor()


def _check_one_statement(conn: duckdb.DuckDBPyConnection, query: str) -> None:
    """DuckDB's own parser counts the statements: a second one would escape the row limit."""
    count = len(conn.extract_statements(query))
    if count != 1:
        raise QueryError(
            f"one statement at a time, please: the text holds {count} "
            "(statements are separated by ';')"
        )


def _materialize(
    conn: duckdb.DuckDBPyConnection, query: str, params: Any, max_rows: int | None = None
) -> SqlResult:
    relation = conn.sql(query, params=params)
    if relation is None:
        return SqlResult([], rows=[])
    if max_rows is not None:  # the limit goes into the plan: DuckDB stops producing rows there
        relation = relation.limit(max_rows)
    columns = list(relation.columns)
    if pa is not None:
        return SqlResult(columns, table=relation.to_arrow_table())
    return SqlResult(columns, rows=relation.fetchall())


def _query_error(error: duckdb.Error) -> QueryError:
    message = str(error)
    if "read-only mode" in message:
        return QueryError(f"SQL over the store is read-only; the statement was refused ({message})")
    if isinstance(error, duckdb.PermissionException) or "disabled by configuration" in message:
        return QueryError(
            "SQL over the store cannot read or write files, attach databases or load extensions "
            f"({message})"
        )
    if "configuration has been locked" in message:
        return QueryError(f"SQL over the store cannot change settings ({message})")
    return QueryError(message)


# --- search_traces() and get_trace() ------------------------------------------------------------


def search_traces(
    filter: str | None = None,
    order_by: list[str] | str | None = None,
    max_results: int = 100,
    run_id: str | None = None,
    experiment: str | None = None,
    model_id: str | None = None,
    return_type: Literal["list", "pandas"] = "list",
    store: StorePath = None,
    *,
    offset: int = 0,
    include_spans: bool = True,
) -> Any:
    """Traces matching ``filter`` (see :mod:`tracepond.store.filter`), newest first by default.

    ``run_id``, ``experiment`` (id or name) and ``model_id`` narrow the search further;
    ``offset`` skips that many results (pages of ``max_results``). Returns ``list[Trace]``, or a
    pandas DataFrame (one row per trace, with a ``spans`` column of span dicts) when
    ``return_type="pandas"``.
    """
    if return_type not in ("list", "pandas"):
        raise QueryError(f"return_type must be 'list' or 'pandas', not {return_type!r}")
    for name, number in (("max_results", max_results), ("offset", offset)):
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or number < (name == "max_results")
        ):
            raise QueryError(
                f"{name} must be a {'positive' if name == 'max_results' else 'non-negative'} integer, not {number!r}"
            )
    order = compile_order_by(order_by)
    compile_filter(filter)  # a malformed filter fails before the store is opened
    with read_connection(store) as conn:
        conditions, extra = _scope(conn, run_id, experiment, model_id)
        if order.startswith("t.start_time DESC") and uses_spans(filter):
            rows = _newest_first(conn, filter, conditions, extra, order, max_results + offset)
            rows = rows[offset : offset + max_results]
        else:
            where, params = compile_filter(filter)
            rows = _dict_rows(
                conn,
                f"SELECT t.* FROM traces t WHERE {where}{conditions} ORDER BY {order} "
                "LIMIT ? OFFSET ?",
                [*params, *extra, max_results, offset],
            )
        spans = _spans_of(conn, rows) if include_spans else {}
        judged = read_assessments(conn, [row["trace_id"] for row in rows])
    traces = TraceList(
        _trace(row, spans.get(row["trace_id"], []), judged.get(row["trace_id"], [])) for row in rows
    )
    if return_type == "pandas":
        return _dataframe(traces, include_spans)
    return traces


def _newest_first(
    conn: duckdb.DuckDBPyConnection,
    filter_: str | None,
    conditions: str,
    extra: list[Any],
    order: str,
    wanted: int,
) -> list[dict[str, Any]]:
    """The newest ``wanted`` traces matching a filter with span.X conditions, searching the
    most recent stretch of time first.

    Every span of a trace starts at or after the trace, so for a cutoff C the traces that start
    at or after C are judged exactly on the spans that start at or after C, and DuckDB's zone maps
    skip older row groups of ``spans``. When that stretch already holds ``wanted`` matches they
    are the newest ones; otherwise the stretch doubles until it covers the whole store.
    """
    newest, oldest = conn.execute("SELECT max(start_time), min(start_time) FROM traces").fetchall()[
        0
    ]
    if newest is None:
        return []
    span = max((newest - oldest) / 64, dt.timedelta(seconds=1))
    while True:
        cutoff = newest - span
        if cutoff <= oldest:
            where, params = compile_filter(filter_)
            return _dict_rows(
                conn,
                f"SELECT t.* FROM traces t WHERE {where}{conditions} ORDER BY {order} LIMIT ?",
                [*params, *extra, wanted],
            )
        literal = f"TIMESTAMP '{cutoff.isoformat(sep=' ')}'"  # our own datetime, not user text
        where, params = compile_filter(
            filter_, spans_source=f"(SELECT * FROM spans WHERE start_time >= {literal})"
        )
        rows = _dict_rows(
            conn,
            f"SELECT t.* FROM traces t WHERE t.start_time >= {literal} AND {where}{conditions} "
            f"ORDER BY {order} LIMIT ?",
            [*params, *extra, wanted],
        )
        if len(rows) >= wanted:
            return rows
        span *= 4


def _scope(
    conn: duckdb.DuckDBPyConnection,
    run_id: str | None,
    experiment: str | None,
    model_id: str | None,
) -> tuple[str, list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    if run_id is not None:
        conditions.append("t.run_id = ?")
        params.append(str(run_id))
    if model_id is not None:
        conditions.append("t.model_id = ?")
        params.append(str(model_id))
    if experiment is not None:
        if _has_table(conn, "experiments"):
            conditions.append(
                "(t.experiment_id = ? OR t.experiment_id IN "
                "(SELECT experiment_id FROM experiments WHERE name = ?))"
            )
            params.extend([str(experiment), str(experiment)])
        else:
            conditions.append("t.experiment_id = ?")
            params.append(str(experiment))
    return "".join(f" AND {c}" for c in conditions), params


def get_trace(trace_id: str, store: StorePath = None) -> Trace | None:
    """The trace with its span tree, or None when the store has no trace with that id."""
    if not isinstance(trace_id, str):
        raise QueryError(
            f"trace_id must be a string of 32 hex digits, not {type(trace_id).__name__}"
        )
    normalized = trace_id.strip().lower()
    if not _TRACE_ID.match(normalized):
        return None
    with read_connection(store) as conn:
        rows = _dict_rows(conn, "SELECT * FROM traces WHERE trace_id = ?", [normalized])
        if not rows:
            return None
        spans = _spans_of(conn, rows)
        judged = read_assessments(conn, [normalized])
    return _trace(rows[0], spans.get(normalized, []), judged.get(normalized, []))


def dropped_span_counts(store: StorePath = None) -> dict[str, int]:
    """Spans dropped before reaching the store, by source ('duckdb', 'otlp', ...)."""
    with read_connection(store) as conn:
        if not _has_table(conn, "writer_stats"):
            return {}
        rows = conn.execute(
            "SELECT source, sum(dropped_spans) FROM writer_stats GROUP BY source ORDER BY source"
        ).fetchall()
    return {str(source): int(total) for source, total in rows}


def _has_table(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()[0]
    return bool(row and row[0])


def _dict_rows(
    conn: duckdb.DuckDBPyConnection, query: str, params: list[Any]
) -> list[dict[str, Any]]:
    cursor = conn.execute(query, params)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _spans_of(
    conn: duckdb.DuckDBPyConnection, traces: list[dict[str, Any]]
) -> dict[str, list[Span]]:
    """The spans (with events) of these traces. Every span starts inside its trace's
    [start_time, end_time], so that range lets DuckDB skip the row groups of other times."""
    with_spans = [t for t in traces if t.get("start_time") is not None and t.get("span_count")]
    if not with_spans:
        return {}
    ids = [t["trace_id"] for t in with_spans]
    low = min(t["start_time"] for t in with_spans)
    high = max(t["end_time"] or t["start_time"] for t in with_spans)
    one = len(ids) == 1
    match = "trace_id = ?" if one else "trace_id IN (SELECT unnest(?::VARCHAR[]))"
    key: Any = ids[0] if one else ids
    span_rows = _dict_rows(
        conn, f"SELECT * FROM spans WHERE {match} AND start_time BETWEEN ? AND ?", [key, low, high]
    )
    # Events happen while their span is open; the margin keeps events recorded with a slightly
    # skewed explicit timestamp. (Events stamped further away stay in span_events, unread here.)
    event_rows = _dict_rows(
        conn,
        f"SELECT * FROM span_events WHERE {match} AND time BETWEEN ? AND ? ORDER BY time",
        [key, low - _EVENT_MARGIN, high + _EVENT_MARGIN],
    )
    events: dict[tuple[str, str], list[SpanEvent]] = {}
    for row in event_rows:
        events.setdefault((row["trace_id"], row["span_id"]), []).append(
            SpanEvent(row["name"], _utc(row["time"]), _json(row["attributes"]) or {})
        )
    grouped: dict[str, list[Span]] = {}
    for row in span_rows:
        span = _span(row, events.get((row["trace_id"], row["span_id"]), []))
        grouped.setdefault(span.trace_id, []).append(span)
    return {tid: [span for _, span in span_tree(spans)] for tid, spans in grouped.items()}


def _utc(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value
    return None


def _json(text: Any) -> Any:
    if text is None or not isinstance(text, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _span(row: dict[str, Any], events: list[SpanEvent]) -> Span:
    return Span(
        trace_id=row["trace_id"],
        span_id=row["span_id"],
        parent_span_id=row.get("parent_span_id"),
        name=row.get("name") or "",
        span_type=row.get("span_type") or "UNKNOWN",
        status=row.get("status") or "UNSET",
        status_message=row.get("status_message"),
        start_time=_utc(row.get("start_time")),
        end_time=_utc(row.get("end_time")),
        duration_ms=row.get("duration_ms"),
        kind=row.get("kind"),
        provider=row.get("provider"),
        model=row.get("model"),
        response_model=row.get("response_model"),
        input_tokens=row.get("input_tokens"),
        output_tokens=row.get("output_tokens"),
        cost_usd=row.get("cost_usd"),
        inputs=_json(row.get("inputs")),
        outputs=_json(row.get("outputs")),
        attributes=_json(row.get("attributes")) or {},
        events=events,
    )


def _trace(row: dict[str, Any], spans: list[Span], assessments: list[Assessment]) -> Trace:
    info = TraceInfo(
        trace_id=row["trace_id"],
        name=row.get("name"),
        status=row.get("status") or "UNSET",
        start_time=_utc(row.get("start_time")),
        end_time=_utc(row.get("end_time")),
        duration_ms=row.get("duration_ms"),
        tags=_json(row.get("tags")) or {},
        metadata=_json(row.get("metadata")) or {},
        session_id=row.get("session_id"),
        user_id=row.get("user_id"),
        run_id=row.get("run_id"),
        experiment_id=row.get("experiment_id"),
        model_id=row.get("model_id"),
        input_tokens=row.get("input_tokens"),
        output_tokens=row.get("output_tokens"),
        cost_usd=row.get("cost_usd"),
        span_count=row.get("span_count") or 0,
        error_count=row.get("error_count") or 0,
        in_progress=bool(row.get("in_progress")),
        root_span_id=row.get("root_span_id"),
        service_name=row.get("service_name"),
        inputs=_json(row.get("inputs")),
        outputs=_json(row.get("outputs")),
        assessments=assessments,
    )
    return Trace(info, spans)


def _dataframe(traces: list[Trace], include_spans: bool) -> Any:
    import pandas

    records = []
    for trace in traces:
        record = trace.to_dict()["info"]
        for key in ("start_time", "end_time"):
            record[key] = getattr(trace.info, key)
        if include_spans:
            record["spans"] = trace.to_dict()["spans"]
        records.append(record)
    return pandas.DataFrame.from_records(records)
