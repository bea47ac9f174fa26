"""What the MCP tools do, as plain functions over one store (the server only wires them up).

Each returns JSON-ready data sized for a model's context: compact trace rows, a span tree whose
inputs, outputs and attribute values are cut to a budget (and say so in ``cut``), SQL results of
at most ``SQL_MAX_ROWS`` rows. Bad input raises ``ToolInputError`` (a bad filter, refused SQL, a
missing trace): the server turns it into a tool error whose text the agent can act on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson

from tracepond.conventions import attributes as attr
from tracepond.errors import NotFoundError, QueryError, TracepondError
from tracepond.store.query import get_trace as query_trace
from tracepond.store.query import search_traces as query_traces
from tracepond.store.query import sql as query_sql
from tracepond.store.trace import Span, Trace
from tracepond.tracking.run_search import search_runs

SEARCH_MAX_RESULTS = 200
SQL_MAX_ROWS = 200
SQL_TIMEOUT_S = 10.0
VALUE_BUDGET = 2_000  # characters of one input, output or attribute value
TRACE_MAX_SPANS = 300


class ToolInputError(Exception):
    """The agent's arguments cannot be served; the message says why and what to do."""


def _guard(work: Callable[[], Any]) -> Any:
    """Run a query; the errors a caller can fix become ToolInputError with their message."""
    try:
        return work()
    except (QueryError, NotFoundError) as exc:
        raise ToolInputError(str(exc)) from None
    except TracepondError as exc:  # the store is locked, missing, newer, ...
        raise ToolInputError(f"{type(exc).__name__}: {exc}") from None


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value


def _check_count(name: str, value: Any, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ToolInputError(f"{name} must be an integer from 1 to {high}, got {value!r}")
    return value


# --- search_traces and get_trace ------------------------------------------------------------


def trace_row(trace: Trace) -> dict[str, Any]:
    info = trace.info
    return {
        "trace_id": info.trace_id,
        "name": info.name,
        "status": info.status,
        "start_time": _iso(info.start_time),
        "duration_ms": info.duration_ms,
        "span_count": info.span_count,
        "error_count": info.error_count,
        "input_tokens": info.input_tokens,
        "output_tokens": info.output_tokens,
        "cost_usd": info.cost_usd,
        "session_id": info.session_id,
        "user_id": info.user_id,
        "run_id": info.run_id,
        "tags": info.tags,
        "in_progress": info.in_progress,
    }


def search_traces(
    store: str,
    filter: str | None = None,
    max_results: int = 20,
    order_by: list[str] | None = None,
) -> dict[str, Any]:
    _check_count("max_results", max_results, SEARCH_MAX_RESULTS)
    found = _guard(
        lambda: query_traces(
            filter=filter or None,
            order_by=order_by or None,
            max_results=max_results,
            store=store,
            include_spans=False,
        )
    )
    loaded = _prompts_of(store, [t.info.trace_id for t in found])
    rows = [{**trace_row(t), "prompts": loaded.get(t.info.trace_id, [])} for t in found]
    return {"traces": rows, "count": len(rows)}


def _prompts_of(store: str, trace_ids: list[str]) -> dict[str, list[str]]:
    """The prompt versions each trace loaded, as "name/version"."""
    if not trace_ids:
        return {}
    rows = _guard(
        lambda: query_sql(
            "SELECT trace_id, list(name || '/' || version ORDER BY name, version) "
            "FROM trace_prompts WHERE trace_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY trace_id",
            [trace_ids],
            store=store,
        ).fetchall()
    )
    return {str(trace_id): list(loaded) for trace_id, loaded in rows}


class _Budget:
    """Cuts values to VALUE_BUDGET characters of JSON and remembers what it cut."""

    def __init__(self) -> None:
        self.cut: list[str] = []

    def value(self, where: str, value: Any) -> Any:
        if value is None:
            return None
        text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
        if len(text) <= VALUE_BUDGET:
            return value
        self.cut.append(f"{where}: {len(text):,} characters cut to {VALUE_BUDGET:,}")
        return text[:VALUE_BUDGET] + " …[cut]"


def _span_dict(span: Span, depth: int, budget: _Budget) -> dict[str, Any]:
    where = f"span {span.span_id} ({span.name})"
    extra = {
        key: budget.value(f"{where} attribute {key}", value)
        for key, value in sorted(span.attributes.items())
    }
    out: dict[str, Any] = {
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "depth": depth,
        "name": span.name,
        "span_type": span.span_type,
        "status": span.status,
        "status_message": span.status_message,
        "start_time": _iso(span.start_time),
        "duration_ms": span.duration_ms,
        "provider": span.provider,
        "model": span.model,
        "input_tokens": span.input_tokens,
        "output_tokens": span.output_tokens,
        "cost_usd": span.cost_usd,
        "inputs": budget.value(f"{where} inputs", span.inputs),
        "outputs": budget.value(f"{where} outputs", span.outputs),
        "attributes": extra,
    }
    if attr.PROMPT_NAME in span.attributes:
        out["prompt"] = {
            "name": span.attributes[attr.PROMPT_NAME],
            "version": span.attributes.get(attr.PROMPT_VERSION),
        }
    exceptions = [e for e in span.events if e.name == "exception"]
    if exceptions:
        out["exceptions"] = [
            {k: budget.value(f"{where} exception", v) for k, v in e.attributes.items()}
            for e in exceptions
        ]
    return {k: v for k, v in out.items() if v is not None and v != {}}


def get_trace(store: str, trace_id: str) -> dict[str, Any]:
    if not isinstance(trace_id, str) or not trace_id.strip():
        raise ToolInputError("trace_id is the trace's 32 hex characters, from search_traces")
    found = _guard(lambda: query_trace(trace_id, store=store))
    if found is None:
        raise ToolInputError(
            f"no trace with id {trace_id!r}; ids are 32 lowercase hex characters (search_traces lists them)"
        )
    budget = _Budget()
    tree = found.span_tree()
    spans = [_span_dict(span, depth, budget) for depth, span in tree[:TRACE_MAX_SPANS]]
    if len(tree) > TRACE_MAX_SPANS:
        budget.cut.append(
            f"{len(tree) - TRACE_MAX_SPANS:,} of {len(tree):,} spans left out (the first "
            f"{TRACE_MAX_SPANS} in tree order are shown); read the rest with sql: "
            f"SELECT * FROM spans WHERE trace_id = '{found.info.trace_id}'"
        )
    info = {k: _iso(v) for k, v in found.to_dict()["info"].items()}
    info["prompts"] = _prompts_of(store, [found.info.trace_id]).get(found.info.trace_id, [])
    for key in ("inputs", "outputs"):
        info[key] = budget.value(f"trace {key}", info.get(key))
    return {"info": info, "spans": spans, "cut": budget.cut}


# --- sql, list_runs, assessments ---------------------------------------------------------------


def run_sql(store: str, query: str) -> dict[str, Any]:
    """At most SQL_MAX_ROWS rows, limited while fetching: a query is wrapped in
    ``SELECT * FROM (...) LIMIT``; a statement that cannot be wrapped (SHOW, DESCRIBE, ...)
    runs as it is."""
    if not isinstance(query, str) or not query.strip():
        raise ToolInputError("query is one SQL statement, e.g. SELECT count(*) FROM traces")
    body = query.strip().rstrip(";").strip()
    wrapped = f"SELECT * FROM (\n{body}\n) AS q LIMIT {SQL_MAX_ROWS + 1}"
    try:
        result = query_sql(wrapped, store=store, timeout_s=SQL_TIMEOUT_S)
    except QueryError as exc:
        text = str(exc).lower()
        if "syntax error" not in text and "parser error" not in text:
            raise ToolInputError(str(exc)) from None
        result = _guard(lambda: query_sql(query, store=store, timeout_s=SQL_TIMEOUT_S))
    except TracepondError as exc:  # the store is locked, missing, not a store, ...
        raise ToolInputError(f"{type(exc).__name__}: {exc}") from None
    rows = result.fetchall()
    return {
        "columns": list(result.columns),
        "rows": [[_iso(v) for v in row] for row in rows[:SQL_MAX_ROWS]],
        "row_count": min(len(rows), SQL_MAX_ROWS),
        "truncated": len(rows) > SQL_MAX_ROWS,
    }


def list_runs(
    store: str, experiment: str | None = None, filter: str | None = None, max_results: int = 50
) -> dict[str, Any]:
    _check_count("max_results", max_results, SEARCH_MAX_RESULTS)
    found = _guard(
        lambda: search_runs(
            filter=filter or None,
            experiment=experiment or None,
            max_results=max_results,
            store=store,
        )
    )
    runs = [
        {
            "run_id": run.info.run_id,
            "name": run.info.name,
            "experiment_id": run.info.experiment_id,
            "status": run.info.status,
            "start_time": _iso(run.info.start_time),
            "end_time": _iso(run.info.end_time),
            "params": run.data.params,
            "metrics": run.data.metrics,
            "tags": run.data.tags,
        }
        for run in found
    ]
    return {"runs": runs, "count": len(runs)}


def has_table(store: str, name: str) -> bool:
    rows = _guard(
        lambda: query_sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
            [name],
            store=store,
        ).fetchall()
    )
    return bool(rows and rows[0][0])


def get_assessments(store: str, trace_id: str) -> dict[str, Any]:
    if not has_table(store, "assessments"):
        raise ToolInputError(
            "this store has no assessments table: it was written by a tracepond without "
            "feedback and evaluation (log_feedback, evaluate); nothing to read"
        )
    result = _guard(
        lambda: query_sql(
            "SELECT * FROM assessments WHERE trace_id = ? ORDER BY create_time",
            [str(trace_id).strip().lower()],
            store=store,
        )
    )
    columns = list(result.columns)
    rows = [dict(zip(columns, [_iso(v) for v in row], strict=True)) for row in result.fetchall()]
    return {"assessments": rows, "count": len(rows)}
