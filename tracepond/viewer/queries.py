"""The viewer's reads: parameterized SQL over the store's tables, run through the query API.

The viewer never opens the store itself: every read here goes through ``tracepond.store.query``
(``sql`` with parameters, and the filter compiler that ``search_traces`` uses), so the store keeps
one place that knows about locks, read-only connections and time limits. What lives here is the
shape of each page's data: one page of the trace list, a trace's span outline, one span's detail,
sessions, the dashboard's series, and the SQL console's results.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import time
from typing import Any

import orjson

from tracepond.errors import NotFoundError, QueryError
from tracepond.viewer import store_access
from tracepond.viewer.trace_list import TRACE_COLUMNS, loads_json, trace_row

_TRACE_COLUMNS = TRACE_COLUMNS
SQL_CONSOLE_TIMEOUT_S = 10.0


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def features() -> dict[str, bool]:
    """Which parts the pages may show; runs and models ship with every install."""
    return {"runs": True, "models": True}


# --- one trace -------------------------------------------------------------------------------


SPAN_OUTLINE_COLUMNS = (
    "span_id",
    "parent_span_id",
    "name",
    "span_type",
    "status",
    "start_offset_ms",
    "duration_ms",
    "model",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)


def trace_detail(store: str, trace_id: str) -> dict[str, Any]:
    """A trace's header and its span outline, column by column (detail is fetched per span).

    Columns rather than one object per span keep a 50,000-span trace a few megabytes and let
    the outline pass from DuckDB to JSON without a Python loop over the spans.
    """
    rows = store_access.fetch_dicts(
        store, f"SELECT {_TRACE_COLUMNS}, root_span_id FROM traces WHERE trace_id = ?", [trace_id]
    )
    if not rows:
        raise NotFoundError(f"no trace with id {trace_id}")
    info = trace_row(rows[0])
    origin = _epoch_us(info["start_time"]) if info["start_time"] is not None else None
    columns = store_access.fetch_column_lists(
        store,
        "SELECT span_id, parent_span_id, name, span_type, status, "
        "round((epoch_us(start_time) - coalesce(?, min(epoch_us(start_time)) OVER ())) / 1000.0, 3) "
        "AS start_offset_ms, round(duration_ms, 3) AS duration_ms, model, input_tokens, output_tokens, "
        "cost_usd FROM spans WHERE trace_id = ? ORDER BY start_time, span_id",
        [origin, trace_id],
    )
    models = sorted({m for m in columns["model"] if m})
    info["models"] = models
    info["model"] = models[0] if len(models) == 1 else ", ".join(models) or None
    info["prompts"] = store_access.fetch_dicts(  # the prompt versions the trace loaded
        store,
        "SELECT name, version FROM trace_prompts WHERE trace_id = ? ORDER BY name, version",
        [trace_id],
    )
    return {"info": info, "span_count": len(columns["span_id"]), "spans": columns}


def _epoch_us(moment: dt.datetime) -> int:
    return int((moment - dt.datetime(1970, 1, 1)).total_seconds() * 1_000_000)


def span_detail(store: str, trace_id: str, span_id: str) -> dict[str, Any]:
    """Everything recorded on one span: inputs, outputs, attributes and events."""
    rows = store_access.fetch_dicts(
        store, "SELECT * FROM spans WHERE trace_id = ? AND span_id = ? LIMIT 1", [trace_id, span_id]
    )
    if not rows:
        raise NotFoundError(f"no span {span_id} in trace {trace_id}")
    span = rows[0]
    for key in ("inputs", "outputs", "attributes"):
        span[key] = loads_json(span.get(key))
    span["in_progress"] = span.get("end_time") is None
    trace_start = store_access.fetch_rows(
        store, "SELECT start_time FROM traces WHERE trace_id = ?", [trace_id]
    )
    origin = trace_start[0][0] if trace_start and trace_start[0][0] else span.get("start_time")
    if origin is not None and span.get("start_time") is not None:
        span["start_offset_ms"] = (span["start_time"] - origin).total_seconds() * 1000
    events = store_access.fetch_dicts(
        store,
        "SELECT name, time, attributes FROM span_events WHERE trace_id = ? AND span_id = ? ORDER BY time",
        [trace_id, span_id],
    )
    for event in events:
        event["attributes"] = loads_json(event.get("attributes")) or {}
        if event.get("time") is not None and span.get("start_time") is not None:
            event["offset_ms"] = (event["time"] - span["start_time"]).total_seconds() * 1000
    span["events"] = events
    return span


# --- sessions --------------------------------------------------------------------------------


def list_sessions(
    store: str, start: dt.datetime | None, end: dt.datetime | None, limit: int, offset: int
) -> dict[str, Any]:
    clauses, params = ["session_id IS NOT NULL"], []
    if start is not None:
        clauses.append("start_time >= ?")
        params.append(start)
    if end is not None:
        clauses.append("start_time < ?")
        params.append(end)
    rows = store_access.fetch_dicts(
        store,
        "SELECT session_id, count(*) AS trace_count, min(start_time) AS first_time, "
        "max(coalesce(end_time, start_time)) AS last_time, "
        "list(DISTINCT user_id ORDER BY user_id) FILTER (WHERE user_id IS NOT NULL) AS user_ids, "
        "sum(input_tokens)::BIGINT AS input_tokens, sum(output_tokens)::BIGINT AS output_tokens, "
        "sum(cost_usd) AS cost_usd, count(*) FILTER (WHERE status = 'ERROR') AS error_count "
        f"FROM traces WHERE {' AND '.join(clauses)} GROUP BY session_id "
        "ORDER BY last_time DESC NULLS LAST, session_id LIMIT ? OFFSET ?",
        [*params, limit + 1, offset],
    )
    for row in rows:
        first, last = row["first_time"], row["last_time"]
        row["elapsed_ms"] = (last - first).total_seconds() * 1000 if first and last else None
        row["user_ids"] = row["user_ids"] or []
    return {
        "sessions": rows[:limit],
        "limit": limit,
        "offset": offset,
        "has_more": len(rows) > limit,
    }


def session_traces(store: str, session_id: str, limit: int) -> dict[str, Any]:
    rows = store_access.fetch_dicts(
        store,
        f"SELECT {_TRACE_COLUMNS}, inputs, outputs FROM traces WHERE session_id = ? "
        "ORDER BY start_time, trace_id LIMIT ?",
        [session_id, limit],
    )
    if not rows:
        raise NotFoundError(f"no session with id {session_id!r}")
    traces = [trace_row(r) for r in rows]
    for t in traces:
        t["inputs"], t["outputs"] = loads_json(t["inputs"]), loads_json(t["outputs"])
    return {"session_id": session_id, "traces": traces}


# --- the dashboard ---------------------------------------------------------------------------

_BUCKET_STEPS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
_BUCKET_LABELS = {
    60: "minute",
    300: "5 minutes",
    900: "15 minutes",
    1800: "30 minutes",
    3600: "hour",
    10800: "3 hours",
    21600: "6 hours",
    43200: "12 hours",
    86400: "day",
    604800: "week",
}
MAX_MODELS = 8


def _bucket_seconds(span_s: float, buckets: int) -> int:
    wanted = (
        span_s / max(buckets, 1) * 0.999
    )  # "the last hour" measured a moment later is still 60 minutes
    return next((step for step in _BUCKET_STEPS if step >= wanted), _BUCKET_STEPS[-1])


def dashboard(
    store: str, start: dt.datetime | None, end: dt.datetime | None, buckets: int
) -> dict[str, Any]:
    """Series over time: traces and errors, p50/p95 latency, error rate, tokens and cost by model."""
    end = end or utcnow()
    if start is None:
        first = store_access.fetch_rows(store, "SELECT min(start_time) FROM traces", [])
        start = first[0][0] if first and first[0][0] else end - dt.timedelta(hours=1)
    width = _bucket_seconds(max((end - start).total_seconds(), 60.0), buckets)
    origin = math.floor(_epoch_us(start) / 1e6 / width) * width
    count = max(1, math.ceil((_epoch_us(end) / 1e6 - origin) / width))
    bucket = f"CAST(floor((epoch(start_time) - {origin}) / {width}) AS BIGINT)"
    trace_rows = store_access.fetch_rows(
        store,
        f"SELECT {bucket} AS b, count(*), count(*) FILTER (WHERE status = 'ERROR'), "
        "quantile_cont(duration_ms, 0.5), quantile_cont(duration_ms, 0.95), "
        "sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))::DOUBLE, sum(cost_usd) "
        "FROM traces WHERE start_time >= ? AND start_time < ? GROUP BY b",
        [start, end],
    )
    model_rows = store_access.fetch_rows(
        store,
        f"SELECT {bucket} AS b, model, sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))::DOUBLE, "
        "sum(cost_usd) FROM spans WHERE start_time >= ? AND start_time < ? AND model IS NOT NULL "
        "GROUP BY b, model",
        [start, end],
    )
    series = _series(trace_rows, count)
    series.update(_model_series(model_rows, count))
    series["buckets"] = [(origin + i * width) * 1000 for i in range(count)]
    series["bucket_seconds"] = width
    series["bucket_label"] = _BUCKET_LABELS.get(width, f"{width} s")
    series["totals"] = _totals(store, start, end)
    return series


def _series(rows: list[tuple[Any, ...]], count: int) -> dict[str, Any]:
    traces, errors = [0] * count, [0] * count
    p50: list[float | None] = [None] * count
    p95: list[float | None] = [None] * count
    rate: list[float | None] = [None] * count
    for b, n, err, q50, q95, _tokens, _cost in rows:
        if 0 <= b < count:
            traces[b], errors[b], p50[b], p95[b] = int(n), int(err), q50, q95
            rate[b] = err / n if n else 0.0
    return {"traces": traces, "errors": errors, "p50_ms": p50, "p95_ms": p95, "error_rate": rate}


def _model_series(rows: list[tuple[Any, ...]], count: int) -> dict[str, Any]:
    totals: dict[str, float] = {}
    for _b, model, tokens, _cost in rows:
        totals[model] = totals.get(model, 0) + (tokens or 0)
    ranked = sorted(totals, key=lambda m: (-totals[m], m))
    shown = ranked[:MAX_MODELS]
    names = shown + (["other"] if len(ranked) > MAX_MODELS else [])
    tokens = {m: [0.0] * count for m in names}
    cost = {m: [0.0] * count for m in names}
    for b, model, n_tokens, n_cost in rows:
        name = model if model in shown else "other"
        if 0 <= b < count:
            tokens[name][b] += n_tokens or 0
            cost[name][b] += n_cost or 0
    return {"models": names, "tokens_by_model": tokens, "cost_by_model": cost}


def _totals(store: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    rows = store_access.fetch_rows(
        store,
        "SELECT count(*), count(*) FILTER (WHERE status = 'ERROR'), quantile_cont(duration_ms, 0.5), "
        "quantile_cont(duration_ms, 0.95), sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))::BIGINT, "
        "sum(cost_usd) FROM traces WHERE start_time >= ? AND start_time < ?",
        [start, end],
    )
    n, err, q50, q95, tokens, cost = rows[0]
    return {
        "traces": n,
        "errors": err,
        "p50_ms": q50,
        "p95_ms": q95,
        "tokens": tokens or 0,
        "cost_usd": cost or 0,
    }


# --- the SQL console, runs and models --------------------------------------------------------


def run_sql(
    store: str, statement: str, limit: int, timeout_s: float = SQL_CONSOLE_TIMEOUT_S
) -> dict[str, Any]:
    """A read-only statement's first ``limit`` rows, its column names and how long it took."""
    began = time.perf_counter()
    columns, rows = store_access.user_sql(store, statement, limit + 1, timeout_s)
    elapsed = (time.perf_counter() - began) * 1000
    return {
        "columns": columns,
        "rows": [list(r) for r in rows[:limit]],
        "row_count": min(len(rows), limit),
        "truncated": len(rows) > limit,
        "elapsed_ms": elapsed,
    }


MAX_CSV_ROWS = 1_000_000


def sql_csv(store: str, statement: str, timeout_s: float = SQL_CONSOLE_TIMEOUT_S) -> str:
    columns, rows = store_access.user_sql(store, statement, MAX_CSV_ROWS, timeout_s)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                orjson.dumps(v, default=str).decode() if isinstance(v, (dict, list)) else v
                for v in row
            ]
        )
    return out.getvalue()


def list_runs(store: str, limit: int) -> dict[str, Any]:
    if not features()["runs"]:
        raise NotFoundError("this tracepond has no runs")
    try:
        rows = store_access.fetch_dicts(
            store,
            "SELECT r.run_id, r.name, e.name AS experiment, r.status, r.start_time, r.end_time, "
            "(SELECT count(*) FROM traces t WHERE t.run_id = r.run_id) AS traces "
            "FROM runs r LEFT JOIN experiments e ON e.experiment_id = r.experiment_id "
            "ORDER BY r.start_time DESC LIMIT ?",
            [limit],
        )
    except QueryError:
        rows = []  # a store created before runs existed has no runs table yet
    return {
        "runs": rows,
        "columns": ["run_id", "name", "experiment", "status", "start_time", "end_time", "traces"],
    }


def list_models(store: str, limit: int) -> dict[str, Any]:
    if not features()["models"]:
        raise NotFoundError("this tracepond has no model registry")
    try:
        rows = store_access.fetch_dicts(
            store,
            "SELECT m.model_id, m.name, m.creation_time, "
            "(SELECT count(*) FROM traces t WHERE t.model_id = m.model_id) AS traces "
            "FROM models m ORDER BY m.creation_time DESC LIMIT ?",
            [limit],
        )
    except QueryError:
        rows = []
    return {"models": rows, "columns": ["model_id", "name", "creation_time", "traces"]}
