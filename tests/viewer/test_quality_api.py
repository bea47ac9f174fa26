"""The viewer's quality API: assessments of a trace, the feedback POST (guarded like every
route, writing through the store's one path), evaluations listed, shown and compared."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

import tracepond
from tests.viewer.conftest import XSS_OUTPUT, SampleStore
from tracepond.store.query import sql
from tracepond.tracking import runs
from tracepond.viewer.server import create_app

TOKEN = "s3cret-token_for.tests"


def feedback_count(store: str) -> int:
    return int(sql("SELECT count(*) FROM assessments", store=store).fetchall()[0][0])


async def test_feedback_is_posted_listed_and_stored(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    trace_id = sample_store.ids["xss"]
    body = {"name": "user_feedback", "value": False, "rationale": XSS_OUTPUT, "user": "ana"}
    response = await client.post(
        f"/api/traces/{trace_id}/assessments",
        json=body,
        headers={"Origin": "http://127.0.0.1:5000"},
    )
    assert response.status_code == 201, response.text
    created = response.json()["assessment"]
    assert (created["source_type"], created["source_id"], created["value"]) == (
        "HUMAN",
        "ana",
        False,
    )
    listed = (await client.get(f"/api/traces/{trace_id}/assessments")).json()["assessments"]
    assert [(a["name"], a["value"], a["rationale"]) for a in listed] == [
        ("user_feedback", False, XSS_OUTPUT)  # kept as text, exactly
    ]
    [stored] = tracepond.get_assessments(trace_id, store=sample_store.path)
    assert stored.assessment_id == created["assessment_id"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_a_cross_site_feedback_post_is_refused(
    client: httpx.AsyncClient, sample_store: SampleStore, headers: dict[str, str]
) -> None:
    trace_id = sample_store.ids["xss"]
    response = await client.post(
        f"/api/traces/{trace_id}/assessments", json={"name": "x", "value": True}, headers=headers
    )
    assert response.status_code == 403
    assert feedback_count(sample_store.path) == 0


@pytest.fixture
async def guarded(sample_store: SampleStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(sample_store.path, token=TOKEN))
    async with httpx.AsyncClient(transport=transport, base_url="http://192.0.2.10:5000") as c:
        yield c


async def test_the_feedback_post_needs_the_token_when_one_is_set(
    guarded: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    path = f"/api/traces/{sample_store.ids['xss']}/assessments"
    assert (await guarded.post(path, json={"name": "x", "value": True})).status_code == 401
    assert feedback_count(sample_store.path) == 0
    ok = await guarded.post(
        path, json={"name": "x", "value": True}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert ok.status_code == 201 and feedback_count(sample_store.path) == 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"not json", 400, "body must be JSON"),
        (b'{"value": true}', 400, '"name"'),
        (b'{"name": "x", "value": true, "admin": 1}', 400, "unknown field(s) admin"),
        (b'{"name": "x", "value": true, "user": "<b>"}', 400, "user must be"),
        (b'{"name": "x"}', 400, "needs a value"),
        (b'{"name": "", "value": 1}', 400, "non-empty string"),
    ],
)
async def test_bad_feedback_bodies_are_refused(
    client: httpx.AsyncClient, sample_store: SampleStore, body: bytes, status: int, message: str
) -> None:
    response = await client.post(f"/api/traces/{sample_store.ids['xss']}/assessments", content=body)
    assert response.status_code == status and message in response.json()["error"]
    assert feedback_count(sample_store.path) == 0


async def test_feedback_on_a_trace_that_does_not_exist(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    response = await client.post(
        f"/api/traces/{'0' * 32}/assessments", json={"name": "x", "value": 1}
    )
    assert response.status_code == 404 and "no trace with id" in response.json()["error"]
    bad = await client.post("/api/traces/nope/assessments", json={"name": "x", "value": 1})
    assert bad.status_code == 400
    assert feedback_count(sample_store.path) == 0


async def test_evaluations_listed_shown_and_compared(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    runs.reset()
    tracepond.configure(store=sample_store.path)
    data = [{"inputs": {"q": "a"}, "expectations": {"expected_response": "A"}},
            {"inputs": {"q": "b"}, "expectations": {"expected_response": "B"}}]  # fmt: skip
    scorers = [tracepond.scorers.exact_match()]
    first = tracepond.evaluate(data, predict_fn=lambda q: q.upper(), scorers=scorers, name="v1")
    second = tracepond.evaluate(data, predict_fn=lambda q: "A", scorers=scorers, name="v2")

    listed = (await client.get("/api/evaluations")).json()["evaluations"]
    assert [e["name"] for e in listed] == ["v2", "v1"]
    assert listed[1]["metrics"] == {"exact_match/mean": 1.0}
    shown = (await client.get(f"/api/evaluations/{first.run_id}")).json()
    assert shown["run"]["rows"] == 2
    assert {r["outputs"] for r in shown["rows"]} == {"A", "B"}
    compared = (await client.get(f"/api/evaluations/compare?a=v1&b={second.run_id}")).json()
    assert compared["means"]["exact_match"] == [1.0, 0.5]
    [row] = compared["rows"]
    assert row["regressed"] == ["exact_match"] and row["a"]["inputs"] == {"q": "b"}
    missing = await client.get("/api/evaluations/nope")
    assert missing.status_code == 404
    assert (await client.get("/api/evaluations/compare?a=v1")).status_code == 400
