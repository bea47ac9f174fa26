"""One page of the trace list, fast on big stores.

The list is newest first, and a filter on spans (``span.model = 'gpt-4o'``) compiles to an
EXISTS over the whole ``spans`` table, which on millions of rows costs far more than the page.
So the newest-first page is looked for in a window first: traces that started in the last hour
before the newest one, with ``spans`` narrowed to the same window (a span never starts before
its trace, whose start is its earliest span's). When the window holds a full page, that page is
exactly the one the whole store would give; otherwise the window widens in proportion to the
matches it held (at least eightfold), and after three tries the whole store is read. Other sort orders scan everything. The total count is a separate query
(``count_traces``) so the page never waits for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracepond.viewer import store_access

# Sortable columns of the trace list: name in the API -> SQL expression over `traces`.
SORTS = {
    "start_time": "start_time",
    "name": "name",
    "status": "status",
    "duration_ms": "duration_ms",
    "total_tokens": "(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))",
    "cost_usd": "cost_usd",
    "span_count": "span_count",
    "session_id": "session_id",
    "user_id": "user_id",
    "run_id": "run_id",
}
TRACE_COLUMNS = (
    "trace_id, name, status, start_time, end_time, duration_ms, session_id, user_id, run_id, "
    "model_id, experiment_id, span_count, input_tokens, output_tokens, cost_usd, in_progress, "
    "error_count, tags"
)
DENSITY = 20  # the first window holds this many traces per row wanted (a filter keeping 1 in 20)
MAX_WINDOWED_TRIES = 3  # then the whole store
Window = int | dt.datetime | None  # the k newest traces, traces since a time, or everything


@dataclass
class TraceListQuery:
    filter: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    sort: str = "start_time"
    descending: bool = True
    limit: int = 50
    offset: int = 0
    since: str | None = None  # cursor: only traces that started after it (plus `ids`)
    ids: list[str] = field(default_factory=list)  # traces to re-read (those still in progress)
    count: bool = False  # also count every trace the filter matches

    def validate(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}, got {self.sort!r}")
        if self.since is not None:
            parse_cursor(self.since)


def parse_cursor(cursor: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(cursor.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise ValueError(f"since must be a cursor returned by this API, got {cursor!r}") from None


def _range(query: TraceListQuery) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.start is not None:
        clauses.append("t.start_time >= ?")
        params.append(query.start)
    if query.end is not None:
        clauses.append("t.start_time < ?")
        params.append(query.end)
    return clauses, params


def _where(query: TraceListQuery) -> tuple[str, list[Any]]:
    clauses, params = _range(query)
    if query.filter:
        sql, filter_params = store_access.compile_filter(query.filter)
        clauses.append(f"({sql})")
        params.extend(filter_params)
    if query.since is not None:
        since = parse_cursor(query.since)
        if query.ids:
            marks = ", ".join("?" for _ in query.ids)
            clauses.append(f"(t.start_time > ? OR t.trace_id IN ({marks}))")
            params.extend([since, *query.ids])
        else:
            clauses.append("t.start_time > ?")
            params.append(since)
    return (" AND ".join(clauses) or "TRUE"), params


def _windowed(query: TraceListQuery) -> bool:
    return query.sort == "start_time" and query.descending and query.since is None


def _bounds(query: TraceListQuery, window: Window) -> tuple[str, list[Any]]:
    """A CTE `bounds` with the window's start `ws`, its newest start `wtop` and, for a window
    of the k newest traces, how many there were (`wn`; fewer than k means all of them)."""
    range_clauses, params = _range(query)
    range_where = " AND ".join(range_clauses) or "TRUE"
    if isinstance(window, int):
        return (
            "bounds AS (SELECT min(start_time) AS ws, max(start_time) AS wtop, count(*) AS wn FROM "
            f"(SELECT t.start_time FROM main.traces t WHERE {range_where} "
            f"ORDER BY t.start_time DESC LIMIT {window})), "
        ), params
    return (
        "bounds AS (SELECT ?::TIMESTAMP AS ws, max(t.start_time) AS wtop, NULL::BIGINT AS wn "
        f"FROM main.traces t WHERE {range_where}), "
    ), [window, *params]


def _statement(query: TraceListQuery, where: str, window: Window) -> tuple[str, list[Any]]:
    """The page, its traces' models (most used first), the newest start and the window's
    bounds, in one statement (one store open)."""
    direction = "DESC" if query.descending else "ASC"
    order = f"{SORTS[query.sort]} {direction} NULLS LAST, trace_id {direction}"
    prefix, window_clause, extra = "", "", "NULL AS ws, NULL AS wtop, NULL AS wn"
    params: list[Any] = []
    if window is not None:
        bounds, params = _bounds(query, window)
        prefix = (
            bounds
            + "spans AS (SELECT * FROM main.spans WHERE start_time >= (SELECT ws FROM bounds)), "
        )
        window_clause = " AND t.start_time >= (SELECT ws FROM bounds)"
        extra = "(SELECT ws FROM bounds) AS ws, (SELECT wtop FROM bounds) AS wtop, (SELECT wn FROM bounds) AS wn"
    statement = (
        f"WITH {prefix}page AS (SELECT {TRACE_COLUMNS} FROM main.traces t "
        f"WHERE {where}{window_clause} ORDER BY {order} LIMIT ? OFFSET ?), "
        "used AS (SELECT trace_id, model, count(*) AS n FROM main.spans "
        "WHERE start_time >= (SELECT min(start_time) FROM page) "
        "AND trace_id IN (SELECT trace_id FROM page) AND model IS NOT NULL GROUP BY trace_id, model), "
        "models AS (SELECT trace_id, list(model ORDER BY n DESC, model) AS models FROM used GROUP BY trace_id) "
        f"SELECT page.*, models.models, (SELECT max(start_time) FROM main.traces) AS newest, {extra} "
        f"FROM page LEFT JOIN models USING (trace_id) ORDER BY {order}"
    )
    return statement, params


def list_traces(store: str, query: TraceListQuery) -> dict[str, Any]:
    """One page of traces with each trace's models, a live-update cursor and, if asked, the total."""
    where, params = _where(query)
    needed = query.offset + query.limit + 1
    window: Window = needed * DENSITY if _windowed(query) else None
    for attempt in range(MAX_WINDOWED_TRIES + 1):
        statement, window_params = _statement(query, where, window)
        rows = store_access.fetch_dicts(
            store, statement, [*window_params, *params, query.limit + 1, query.offset]
        )
        if window is None or len(rows) > query.limit or _held_everything(window, rows):
            break
        found = query.offset + len(rows) if rows else 0
        window = _wider(rows, found, needed) if attempt + 1 < MAX_WINDOWED_TRIES else None
    newest = rows[0]["newest"] if rows else None
    traces = []
    for row in rows[: query.limit]:
        for key in ("newest", "ws", "wtop", "wn"):
            del row[key]
        row["models"] = row["models"] or []
        row["model"] = row["models"][0] if row["models"] else None
        traces.append(trace_row(row))
    return {
        "traces": traces,
        "limit": query.limit,
        "offset": query.offset,
        "has_more": len(rows) > query.limit,
        "total": count_traces(store, query) if query.count else None,
        "cursor": _cursor(query, traces, newest),
    }


def _held_everything(window: Window, rows: list[dict[str, Any]]) -> bool:
    """A window of the k newest traces that found fewer than k held every trace in range."""
    return (
        isinstance(window, int)
        and bool(rows)
        and rows[0]["wn"] is not None
        and rows[0]["wn"] < window
    )


def _wider(rows: list[dict[str, Any]], found: int, needed: int) -> Window:
    """After a window held too few matches: one wider in proportion to the matches it held (at
    least 8x), or everything when nothing matched (there is no rate to go by)."""
    if not rows or rows[0]["ws"] is None or rows[0]["wtop"] is None:
        return None
    ws, wtop = rows[0]["ws"], rows[0]["wtop"]
    scale = min(max(8.0, 2.0 * needed / max(found, 1)), 10_000.0)
    width: dt.timedelta = max(wtop - ws, dt.timedelta(seconds=1))
    cutoff: dt.datetime = wtop - width * scale
    return cutoff


def count_traces(store: str, query: TraceListQuery) -> int:
    where, params = _where(query)
    rows = store_access.fetch_rows(
        store, f"SELECT count(*) FROM main.traces t WHERE {where}", params
    )
    return int(rows[0][0])


def loads_json(value: Any) -> Any:
    """JSON text from the store as Python; anything else (or broken JSON) as it is."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def trace_row(row: dict[str, Any]) -> dict[str, Any]:
    """A traces row as the API shows it: tags parsed, in_progress a bool, tokens summed."""
    tags = row.get("tags")
    row["tags"] = loads_json(tags) if isinstance(tags, str) else (tags or {})
    row["in_progress"] = bool(row.get("in_progress"))
    row["total_tokens"] = (row.get("input_tokens") or 0) + (row.get("output_tokens") or 0)
    return row


def _cursor(query: TraceListQuery, traces: list[dict[str, Any]], newest: dt.datetime | None) -> str:
    """The start time after which a poll looks for new traces, never later than the server's
    clock: a span dated in the future (a skewed clock, a hostile exporter) must not hide every
    trace that arrives after it. Such a trace comes back in each poll; the page merges by id."""
    latest = newest
    if latest is None:
        latest = max((t["start_time"] for t in traces if t["start_time"] is not None), default=None)
    if query.since is not None:
        since = parse_cursor(query.since)
        latest = max(latest, since) if latest is not None else since
    if latest is None:
        return dt.datetime(1970, 1, 1).isoformat()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # the store's times: naive UTC
    return min(latest, now).isoformat()
