"""The viewer's quality API: a trace's assessments, the feedback form's POST, evaluations.

    GET  /api/traces/{trace_id}/assessments        -> {"assessments": [...]}
    POST /api/traces/{trace_id}/assessments        {"name", "value", "rationale", "user"} -> 201
    GET  /api/evaluations                          -> {"evaluations": [...]}
    GET  /api/evaluations/compare?a=RUN&b=RUN      -> per-scorer means and the rows that changed
    GET  /api/evaluations/{run}                    -> the run and its rows

The POST goes through the same guard as every route (no cross-site request, the token when one
is set) and writes through the store's one assessment write path (``log_feedback``). The page
draws every value as text.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from tracepond.errors import AssessmentError
from tracepond.errors import BadRequestError as BadRequest
from tracepond.tracking import assessments, evaluation_query
from tracepond.viewer.api import endpoint, json_response, trace_id_param

_USER = re.compile(r"^[\w.@ -]{1,64}$")
_FIELDS = {"name", "value", "rationale", "user", "span_id"}
MAX_BODY = 64 * 1024


def _store(request: Request) -> str:
    return str(request.app.state.store)


async def list_assessments(request: Request) -> Any:
    trace_id = trace_id_param(request)
    found = await run_in_threadpool(assessments.get_assessments, trace_id, store=_store(request))
    return {"assessments": [a.to_dict() for a in found]}


async def _feedback_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequest(f"a feedback is at most {MAX_BODY} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest(
            'body must be JSON: {"name": "...", "value": true, "rationale": "..."}'
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise BadRequest('body must be a JSON object with a "name" and a "value"')
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(unknown)}; a feedback has {', '.join(sorted(_FIELDS))}"
        )
    user = body.get("user")
    if user is not None and (not isinstance(user, str) or not _USER.match(user)):
        raise BadRequest("user must be up to 64 letters, digits, spaces or . @ - _")
    rationale = body.get("rationale")
    if rationale is not None and not isinstance(rationale, str):
        raise BadRequest("rationale must be a string")
    return body


async def add_feedback(request: Request) -> Any:
    # A write from another site's page is refused even without an Origin header. The guard checks
    # Origin today; feat/hardening's guard checks Fetch Metadata on every route (then this goes).
    if request.headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return json_response({"error": "cross-site requests are refused", "kind": "auth"}, 403)
    trace_id = trace_id_param(request)
    body = await _feedback_body(request)
    source = f"human:{body['user']}" if body.get("user") else "human"

    def work() -> Any:
        return assessments.log_feedback(
            trace_id, body["name"], body.get("value"), source=source,
            rationale=body.get("rationale") or None, span_id=body.get("span_id"),
            store=_store(request),
        )  # fmt: skip

    try:
        created = await run_in_threadpool(work)
    except AssessmentError as exc:
        raise BadRequest(str(exc), kind="assessment") from None
    return json_response({"assessment": created.to_dict()}, status=201)


async def evaluations(request: Request) -> Any:
    found = await run_in_threadpool(evaluation_query.list_evaluations, store=_store(request))
    return {"evaluations": [e.to_dict() for e in found]}


async def evaluation(request: Request) -> Any:
    run = str(request.path_params["run"])
    summary, rows = await run_in_threadpool(
        evaluation_query.get_evaluation, run, store=_store(request)
    )
    return {"run": summary.to_dict(), "rows": [r.to_dict() for r in rows]}


async def compare(request: Request) -> Any:
    a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
    if not a or not b:
        raise BadRequest("compare needs two runs: ?a=RUN&b=RUN")
    found = await run_in_threadpool(
        evaluation_query.compare_evaluations, a, b, store=_store(request)
    )
    return found.to_dict()


def routes() -> list[Route]:
    return [
        Route("/api/traces/{trace_id}/assessments", endpoint(list_assessments), methods=["GET"]),
        Route("/api/traces/{trace_id}/assessments", endpoint(add_feedback), methods=["POST"]),
        Route("/api/evaluations", endpoint(evaluations)),
        Route("/api/evaluations/compare", endpoint(compare)),
        Route("/api/evaluations/{run}", endpoint(evaluation)),
    ]
