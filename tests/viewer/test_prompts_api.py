"""The Prompts API in-process (httpx.ASGITransport): lists, versions with their traces' stats,
diffs, the traces of a version, and bad requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.viewer.prompt_store import PromptStore, build_prompt_store
from tracepond.viewer.server import create_app


@pytest.fixture
def prompt_store(tmp_path: Path) -> PromptStore:
    return build_prompt_store(str(tmp_path / "prompts.duckdb"))


@pytest.fixture
async def api(prompt_store: PromptStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(prompt_store.path))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:5454") as c:
        yield c


async def test_the_list_of_prompts(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/prompts")).json()
    rows = {p["name"]: p for p in body["prompts"]}
    assert set(rows) == {"hostile", "support"}
    assert rows["support"]["latest_version"] == 2 and rows["support"]["versions"] == 2
    assert rows["support"]["aliases"] == ["production"] and rows["support"]["traces"] == 3
    assert rows["hostile"]["traces"] == 0


async def test_a_prompt_with_the_stats_of_each_version(
    api: httpx.AsyncClient, prompt_store: PromptStore
) -> None:
    body = (await api.get("/api/prompts/support")).json()
    versions = {v["version"]: v for v in body["versions"]}
    assert list(versions) == [2, 1]  # newest first
    assert versions[2]["model_config"] == {"model": "gpt-4o-mini", "temperature": 0.2}
    assert versions[2]["aliases"] == ["production"] and versions[1]["commit_message"] == "first"
    two, one = versions[2]["stats"], versions[1]["stats"]
    assert (two["traces"], one["traces"]) == (2, 1)
    assert two["cost_usd"] == pytest.approx(0.06) and two["avg_cost_usd"] == pytest.approx(0.03)
    assert one["cost_usd"] == pytest.approx(0.01)
    assert two["p50_ms"] > 0 and two["error_rate"] == 0
    # Every store has the assessments table (quality, migration 6): no feedback logged yet.
    assert two["feedback_count"] == 0 and two["feedback_mean"] is None


async def test_the_diff_between_two_versions(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/prompts/support/diff?from=1&to=2")).json()
    assert body["old"]["version"] == 1 and body["new"]["version"] == 2
    assert body["lines"] == [
        {"op": "same", "text": "You help customers of {{company}}."},
        {"op": "removed", "text": "Be brief."},
        {"op": "added", "text": "Be kind and brief."},
        {"op": "added", "text": '[model_config] model = "gpt-4o-mini"'},
        {"op": "added", "text": "[model_config] temperature = 0.2"},
    ]
    same = (await api.get("/api/prompts/support/diff?from=2&to=2")).json()
    assert {line["op"] for line in same["lines"]} == {"same"}


async def test_the_traces_of_a_version(api: httpx.AsyncClient, prompt_store: PromptStore) -> None:
    body = (await api.get("/api/prompts/support/versions/2/traces")).json()
    assert {t["trace_id"] for t in body["traces"]} == set(prompt_store.traces[2])
    first = body["traces"][0]
    assert first["status"] == "OK" and first["duration_ms"] > 0 and first["cost_usd"] > 0
    assert first["feedback"] is None
    none = (await api.get("/api/prompts/hostile/versions/1/traces")).json()
    assert none == {"traces": []}


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/prompts/nope", 404, "no prompt named 'nope'"),
        ("/api/prompts/support/versions/9/traces", 404, "has no version 9"),
        ("/api/prompts/support/versions/x/traces", 400, "positive integer"),
        ("/api/prompts/support/diff?from=1", 400, "from and to"),
        ("/api/prompts/support/diff?from=1&to=5", 404, "has no version 5"),
        ("/api/prompts/support/diff?from=a&to=2", 400, "from must be an integer"),
        ("/api/prompts/bad%20name", 400, "a prompt name is"),
    ],
)
async def test_bad_requests(api: httpx.AsyncClient, path: str, status: int, message: str) -> None:
    response = await api.get(path)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


async def test_the_span_detail_names_the_prompt_it_loaded(
    api: httpx.AsyncClient, prompt_store: PromptStore
) -> None:
    trace_id = prompt_store.traces[1][0]
    detail = (await api.get(f"/api/traces/{trace_id}")).json()
    assert detail["info"]["prompts"] == [{"name": "support", "version": 1}]
    chat = detail["spans"]["span_id"][detail["spans"]["name"].index("chat")]
    span = (await api.get(f"/api/traces/{trace_id}/spans/{chat}")).json()
    assert span["attributes"]["tracepond.prompts"] == ["support/1"]
    assert span["attributes"]["tracepond.prompt.version"] == 1


async def test_a_cross_site_request_for_prompts_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/prompts", headers={"host": "evil.example"})
    assert response.status_code == 403


def _log_feedback(store: str, trace_id: str, name: str, value: object) -> None:
    """Through tracepond.log_feedback when this tree has it (issue 13); until then a row in an
    `assessments` table of DESIGN.md's columns, so the feedback columns are read as they will be."""
    import duckdb

    import tracepond

    if "log_feedback" in tracepond.__all__:
        tracepond.log_feedback(trace_id, name, value, source="human:ana", store=store)
        return
    tracepond.flush()
    with duckdb.connect(store) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS assessments (assessment_id VARCHAR, trace_id VARCHAR, "
            "span_id VARCHAR, name VARCHAR, kind VARCHAR, value JSON, source_type VARCHAR, "
            "source_id VARCHAR, rationale VARCHAR, error VARCHAR, run_id VARCHAR, "
            "create_time TIMESTAMP, valid BOOLEAN, overrides VARCHAR)"
        )
        conn.execute(
            "INSERT INTO assessments VALUES (uuid()::VARCHAR, ?, NULL, ?, 'feedback', ?, "
            "'HUMAN', 'ana', NULL, NULL, NULL, now()::TIMESTAMP, TRUE, NULL)",
            [trace_id, name, json.dumps(value)],
        )


async def test_feedback_per_version_and_per_trace(
    api: httpx.AsyncClient, prompt_store: PromptStore
) -> None:
    first, second = prompt_store.traces[2]
    _log_feedback(prompt_store.path, first, "correct", True)
    _log_feedback(prompt_store.path, second, "correct", False)
    _log_feedback(prompt_store.path, second, "score", 0.5)
    _log_feedback(prompt_store.path, prompt_store.traces[1][0], "correct", True)
    versions = {
        v["version"]: v["stats"] for v in (await api.get("/api/prompts/support")).json()["versions"]
    }
    assert versions[2]["feedback_count"] == 3
    assert versions[2]["feedback_mean"] == pytest.approx(0.5)  # true, false, 0.5
    assert versions[1]["feedback_count"] == 1 and versions[1]["feedback_mean"] == 1.0
    traces = (await api.get("/api/prompts/support/versions/2/traces")).json()["traces"]
    by_id = {t["trace_id"]: t["feedback"] for t in traces}
    assert by_id == {first: "correct=true", second: "correct=false, score=0.5"}
