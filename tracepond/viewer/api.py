"""The viewer's JSON API under /api/ (documented in docs/api.md).

Every handler parses its parameters, runs one blocking query function from
tracepond.viewer.queries in a worker thread, and answers JSON. Bad input answers 400 with
``{"error": message, "kind": ...}``; a missing trace 404; a store held by another process 503.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracepond._version import __version__
from tracepond.errors import BadRequestError as BadRequest
from tracepond.errors import NotFoundError, QueryError, StoreError, StoreLockedError
from tracepond.viewer import queries, trace_list
from tracepond.viewer.trace_list import TraceListQuery

_RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
MAX_PAGE = 500


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def dumps(body: Any) -> bytes:
    return orjson.dumps(
        body,
        default=_default,
        option=orjson.OPT_NAIVE_UTC
        | orjson.OPT_UTC_Z
        | orjson.OPT_NON_STR_KEYS
        | orjson.OPT_SERIALIZE_NUMPY,
    )


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    all_headers = {"cache-control": "no-store", **(headers or {})}
    return Response(
        dumps(body), status_code=status, media_type="application/json", headers=all_headers
    )


def error_response(
    status: int, message: str, kind: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response({"error": message, "kind": kind}, status=status, headers=headers)


Handler = Callable[[Request], Any]


def endpoint(handler: Handler) -> Callable[[Request], Any]:
    """Turn the errors a user can cause into JSON answers; everything else is a 500."""

    async def wrapped(request: Request) -> Response:
        try:
            result = await handler(request)
        except BadRequest as exc:
            return error_response(400, str(exc), exc.kind)
        except QueryError as exc:
            return error_response(400, str(exc), "query")
        except NotFoundError as exc:
            return error_response(404, str(exc), "not_found")
        except StoreLockedError as exc:
            return error_response(503, str(exc), "locked", {"retry-after": "1"})
        except StoreError as exc:
            return error_response(503, str(exc), "store")
        return result if isinstance(result, Response) else json_response(result)

    return wrapped


def _store(request: Request) -> str:
    return str(request.app.state.store)


def int_param(request: Request, name: str, default: int, low: int = 0, high: int = 1 << 31) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def time_param(raw: str | None, name: str) -> dt.datetime | None:
    """ISO 8601 (a naive time is UTC) or epoch milliseconds, as a naive UTC datetime."""
    if raw in (None, ""):
        return None
    assert raw is not None
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", raw):
            moment = dt.datetime.fromtimestamp(float(raw) / 1000, tz=dt.timezone.utc)
        else:
            moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise BadRequest(
            f"{name} must be an ISO 8601 time or epoch milliseconds, got {raw!r}"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def time_range(request: Request) -> tuple[dt.datetime | None, dt.datetime | None]:
    named = request.query_params.get("range", "")
    start = time_param(request.query_params.get("from"), "from")
    end = time_param(request.query_params.get("to"), "to")
    if named and named != "all":
        if named not in _RANGES:
            raise BadRequest(f"range must be one of {', '.join([*_RANGES, 'all'])}, got {named!r}")
        start = queries.utcnow() - dt.timedelta(seconds=_RANGES[named])
    return start, end


def trace_id_param(request: Request) -> str:
    trace_id = str(request.path_params["trace_id"]).lower()
    if not _HEX32.match(trace_id):
        raise BadRequest("trace id must be 32 hex characters")
    return trace_id


# --- handlers --------------------------------------------------------------------------------


async def health(request: Request) -> Any:
    store = _store(request)
    return {
        "status": "ok",
        "version": __version__,
        "store": store,
        "store_name": store.rsplit("/", 1)[-1],
        "features": queries.features(),
    }


def trace_list_query(request: Request) -> TraceListQuery:
    params = request.query_params
    start, end = time_range(request)
    ids = [i for i in params.get("ids", "").lower().split(",") if i]
    if any(not _HEX32.match(i) for i in ids) or len(ids) > MAX_PAGE:
        raise BadRequest(f"ids must be up to {MAX_PAGE} comma-separated 32-hex trace ids")
    count = params.get("count", "false").lower()
    if count not in ("true", "false", "1", "0"):
        raise BadRequest(f"count must be true or false, got {count!r}")
    query = TraceListQuery(
        filter=params.get("filter", "").strip(),
        start=start,
        end=end,
        sort=params.get("sort", "start_time"),
        descending=params.get("order", "desc").lower() != "asc",
        limit=int_param(request, "limit", 50, 1, MAX_PAGE),
        offset=int_param(request, "offset", 0),
        since=params.get("since") or None,
        ids=ids,
        count=count in ("true", "1"),
    )
    try:
        query.validate()
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return query


async def _filtered(work: Callable[..., Any], *args: Any) -> Any:
    """Run a trace-list query; a filter the store rejects is the user's 400, not a crash."""
    try:
        return await run_in_threadpool(work, *args)
    except (QueryError, ValueError) as exc:
        if isinstance(exc, StoreError):
            raise
        raise BadRequest(str(exc), kind="filter") from None


async def traces(request: Request) -> Any:
    return await _filtered(trace_list.list_traces, _store(request), trace_list_query(request))


async def traces_count(request: Request) -> Any:
    query = trace_list_query(request)
    return {"total": await _filtered(trace_list.count_traces, _store(request), query)}


async def trace(request: Request) -> Any:
    trace_id = trace_id_param(request)
    return await run_in_threadpool(queries.trace_detail, _store(request), trace_id)


async def span(request: Request) -> Any:
    trace_id = trace_id_param(request)
    span_id = str(request.path_params["span_id"]).lower()
    if not _HEX16.match(span_id):
        raise BadRequest("span id must be 16 hex characters")
    return await run_in_threadpool(queries.span_detail, _store(request), trace_id, span_id)


async def sessions(request: Request) -> Any:
    start, end = time_range(request)
    return await run_in_threadpool(
        queries.list_sessions,
        _store(request),
        start,
        end,
        int_param(request, "limit", 50, 1, MAX_PAGE),
        int_param(request, "offset", 0),
    )


async def session(request: Request) -> Any:
    session_id = str(request.path_params["session_id"])
    return await run_in_threadpool(
        queries.session_traces,
        _store(request),
        session_id,
        int_param(request, "limit", 200, 1, 2000),
    )


async def dashboard(request: Request) -> Any:
    start, end = time_range(request)
    buckets = int_param(request, "buckets", 60, 2, 500)
    return await run_in_threadpool(queries.dashboard, _store(request), start, end, buckets)


async def sql_json(request: Request) -> Any:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise BadRequest('body must be JSON: {"sql": "SELECT ..."}') from None
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("sql"), str)
        or not body["sql"].strip()
    ):
        raise BadRequest('body must be JSON: {"sql": "SELECT ...", "limit": 1000}')
    limit = body.get("limit", 1000)
    if not isinstance(limit, int) or not 1 <= limit <= 100_000:
        raise BadRequest("limit must be an integer from 1 to 100000")
    timeout_s = float(request.app.state.sql_timeout_s)
    return await run_in_threadpool(queries.run_sql, _store(request), body["sql"], limit, timeout_s)


async def sql_csv(request: Request) -> Any:
    statement = request.query_params.get("sql", "")
    if not statement.strip():
        raise BadRequest("sql parameter is required")
    timeout_s = float(request.app.state.sql_timeout_s)
    text = await run_in_threadpool(queries.sql_csv, _store(request), statement, timeout_s)
    return Response(
        text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": 'attachment; filename="tracepond.csv"',
            "cache-control": "no-store",
        },
    )


async def runs(request: Request) -> Any:
    return await run_in_threadpool(
        queries.list_runs, _store(request), int_param(request, "limit", 200, 1, 2000)
    )


async def models(request: Request) -> Any:
    return await run_in_threadpool(
        queries.list_models, _store(request), int_param(request, "limit", 200, 1, 2000)
    )


async def not_found(request: Request) -> Any:
    raise NotFoundError(f"no API endpoint {request.url.path}")


def routes() -> list[Route]:
    return [
        Route("/api/health", endpoint(health)),
        Route("/api/traces", endpoint(traces)),
        Route("/api/traces/count", endpoint(traces_count)),
        Route("/api/traces/{trace_id}", endpoint(trace)),
        Route("/api/traces/{trace_id}/spans/{span_id}", endpoint(span)),
        Route("/api/sessions", endpoint(sessions)),
        Route("/api/sessions/{session_id:path}", endpoint(session)),
        Route("/api/dashboard", endpoint(dashboard)),
        Route("/api/sql", endpoint(sql_json), methods=["POST"]),
        Route("/api/sql.csv", endpoint(sql_csv)),
        Route("/api/runs", endpoint(runs)),
        Route("/api/models", endpoint(models)),
        Route("/api/{rest:path}", endpoint(not_found), methods=["GET", "POST"]),
    ]
