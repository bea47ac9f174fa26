"""The viewer's Prompts page data: /api/prompts, one prompt's versions with how their traces
went, a diff between two versions, and the traces of one version.

    GET /api/prompts                                  every prompt: latest version, aliases, traces
    GET /api/prompts/{name}                           its versions (template, settings) + stats
    GET /api/prompts/{name}/diff?from=1&to=2          the two versions, line by line
    GET /api/prompts/{name}/versions/{v}/traces       traces that loaded it: latency, cost, feedback
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from tracepond.errors import BadRequestError
from tracepond.tracking.prompt_diff import diff_dict
from tracepond.tracking.prompt_search import (
    prompt_summaries,
    search_prompts,
    version_stats,
    version_traces,
)
from tracepond.tracking.prompts import check_name, load_prompt
from tracepond.viewer.api import endpoint, int_param


def _store(request: Request) -> str:
    return str(request.app.state.store)


def _name(request: Request) -> str:
    try:
        return check_name(str(request.path_params["name"]))
    except ValueError as exc:
        raise BadRequestError(str(exc)) from None


def _list(store: str) -> dict[str, Any]:
    return {"prompts": prompt_summaries(store=store)}


def _detail(store: str, name: str) -> dict[str, Any]:
    stats = {row["version"]: row for row in version_stats(name, store=store)}  # NotFound: 404
    versions = search_prompts(filter=f"name = '{name}'", store=store)  # a checked name
    return {
        "name": name,
        "versions": [{**v.to_dict(), "stats": stats.get(v.version, {})} for v in versions],
    }


def _diff(store: str, name: str, old: int, new: int) -> dict[str, Any]:
    return diff_dict(load_prompt(name, old, store=store), load_prompt(name, new, store=store))


def _traces(store: str, name: str, version: int, limit: int) -> dict[str, Any]:
    load_prompt(name, version, store=store)  # an unknown version is a 404, not an empty list
    return {"traces": version_traces(name, version, limit=limit, store=store)}


async def list_prompts(request: Request) -> Any:
    return await run_in_threadpool(_list, _store(request))


async def prompt(request: Request) -> Any:
    return await run_in_threadpool(_detail, _store(request), _name(request))


async def diff(request: Request) -> Any:
    old = int_param(request, "from", 0, 1)
    new = int_param(request, "to", 0, 1)
    if not old or not new:
        raise BadRequestError("from and to are the two version numbers to compare")
    return await run_in_threadpool(_diff, _store(request), _name(request), old, new)


async def traces(request: Request) -> Any:
    raw = str(request.path_params["version"])
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequestError(f"a version is a positive integer, got {raw!r}")
    limit = int_param(request, "limit", 100, 1, 1000)
    return await run_in_threadpool(_traces, _store(request), _name(request), int(raw), limit)


def routes() -> list[Route]:
    return [
        Route("/api/prompts", endpoint(list_prompts)),
        Route("/api/prompts/{name}", endpoint(prompt)),
        Route("/api/prompts/{name}/diff", endpoint(diff)),
        Route("/api/prompts/{name}/versions/{version}/traces", endpoint(traces)),
    ]
