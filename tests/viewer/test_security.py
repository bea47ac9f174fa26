"""Token checks (API, pages, ingest), DNS-rebinding and cross-site refusals, headers, no CORS."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from tests.otlp.test_decode import json_body
from tests.viewer.conftest import SampleStore
from tracepond.errors import ConfigError
from tracepond.store.query import sql
from tracepond.viewer.security import CONTENT_SECURITY_POLICY, is_loopback_host
from tracepond.viewer.server import create_app, generate_token

TOKEN = "s3cret-token_for.tests"


@pytest.fixture
async def guarded(sample_store: SampleStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sample_store.path, token=TOKEN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://192.0.2.10:5000") as c:
        yield c


def span_count(store: str) -> int:
    return int(sql("SELECT count(*) FROM spans", store=store).fetchall()[0][0])


@pytest.mark.parametrize(
    "path", ["/", "/api/health", "/api/traces", "/static/app.js", "/api/sql.csv?sql=select+1"]
)
async def test_every_route_needs_the_token(guarded: httpx.AsyncClient, path: str) -> None:
    response = await guarded.get(path)
    assert response.status_code == 401 and response.json()["kind"] == "auth"
    wrong = await guarded.get(path, headers={"Authorization": "Bearer nope-nope-nope"})
    assert wrong.status_code == 401
    right = await guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200


async def test_token_in_url_sets_a_cookie_and_leaves_the_address_bar(
    guarded: httpx.AsyncClient,
) -> None:
    first = await guarded.get(f"/?token={TOKEN}")
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert (await guarded.get("/api/health")).status_code == 200  # the cookie now rides along
    assert (await guarded.get(f"/api/health?token={TOKEN}")).status_code == 200


async def test_ingest_needs_the_token_and_stores_nothing_without_it(
    guarded: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    before = span_count(sample_store.path)
    body = orjson.dumps(json_body())
    refused = await guarded.post(
        "/v1/traces", content=body, headers={"content-type": "application/json"}
    )
    assert refused.status_code == 401
    assert span_count(sample_store.path) == before
    accepted = await guarded.post(
        "/v1/traces",
        content=gzip.compress(body),
        headers={
            "content-type": "application/json",
            "content-encoding": "gzip",
            "authorization": f"Bearer {TOKEN}",
        },
    )
    assert accepted.status_code == 200
    assert span_count(sample_store.path) == before + 1


async def test_without_a_token_only_loopback_hosts_are_answered(client: httpx.AsyncClient) -> None:
    rebound = await client.get("/api/traces", headers={"host": "attacker.example:5000"})
    assert rebound.status_code == 403
    assert (await client.get("/api/health", headers={"host": "localhost:5000"})).status_code == 200
    assert (await client.get("/api/health", headers={"host": "[::1]:5000"})).status_code == 200


async def test_cross_origin_posts_are_refused(
    client: httpx.AsyncClient, sample_store: SampleStore
) -> None:
    before = span_count(sample_store.path)
    for origin in ("http://attacker.example", "null"):
        response = await client.post(
            "/v1/traces",
            content=orjson.dumps(json_body()),
            headers={"content-type": "application/json", "origin": origin},
        )
        assert response.status_code == 403
        assert "cross-site requests are refused" in response.json()["error"]
    assert span_count(sample_store.path) == before
    same = await client.post(
        "/api/sql", json={"sql": "SELECT 1"}, headers={"origin": "http://127.0.0.1:5000"}
    )
    assert same.status_code == 200


CROSS_SITE = [
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},
    {"origin": "http://attacker.example"},
    {"origin": "http://127.0.0.1:6000"},  # the same machine, another port: another origin
    {"origin": "null"},
    {"sec-fetch-site": "cross-site", "origin": "http://attacker.example"},
]
EVERY_KIND_OF_ROUTE = [
    "/",
    "/static/app.js",
    "/api/health",
    "/api/traces",
    "/api/sql.csv?sql=SELECT+count(*)+FROM+spans",
]


@pytest.mark.parametrize("headers", CROSS_SITE)
@pytest.mark.parametrize("path", EVERY_KIND_OF_ROUTE)
async def test_cross_site_gets_are_refused_on_every_route(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    response = await client.get(path, headers=headers)
    assert response.status_code == 403
    assert response.json()["kind"] == "auth"
    assert "cross-site requests are refused" in response.json()["error"]
    assert "sunny" not in response.text  # nothing of the store in the refusal


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_cross_site_ingest_and_sql_posts_store_nothing(
    client: httpx.AsyncClient, sample_store: SampleStore, headers: dict[str, str]
) -> None:
    before = span_count(sample_store.path)
    ingest = await client.post(
        "/v1/traces",
        content=orjson.dumps(json_body()),
        headers={"content-type": "application/json", **headers},
    )
    query = await client.post("/api/sql", json={"sql": "SELECT 1"}, headers=headers)
    assert (ingest.status_code, query.status_code) == (403, 403)
    assert span_count(sample_store.path) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},  # scripts, curl, OTLP exporters: neither header
        {"sec-fetch-site": "same-origin", "origin": "http://127.0.0.1:5000"},
        {"sec-fetch-site": "same-origin"},  # the viewer's own GET fetches carry no Origin
        {"sec-fetch-site": "none"},  # a typed URL or a bookmark
    ],
)
async def test_own_pages_scripts_and_typed_urls_are_served(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path in EVERY_KIND_OF_ROUTE:
        assert (await client.get(path, headers=headers)).status_code == 200, path


async def test_cross_site_is_refused_even_with_the_token(guarded: httpx.AsyncClient) -> None:
    response = await guarded.get(
        "/api/traces",
        headers={"authorization": f"Bearer {TOKEN}", "sec-fetch-site": "cross-site"},
    )
    assert response.status_code == 403


async def test_security_headers_and_no_cors(client: httpx.AsyncClient) -> None:
    for path in ("/", "/api/traces", "/static/traceview.js"):
        response = await client.get(path, headers={"origin": "http://attacker.example"})
        assert response.status_code == 403  # refused, and the refusal has the headers too
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    preflight = await client.options(
        "/api/sql",
        headers={"origin": "http://attacker.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert (
        "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
        and "script-src 'self'" in CONTENT_SECURITY_POLICY
    )


async def test_the_page_has_no_inline_script(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert page.count("<script") == page.count('<script defer src="/static/')
    assert "style=" not in page


def test_tokens_are_checked_and_generated_safely() -> None:
    with pytest.raises(ConfigError, match="token must be"):
        create_app("x.duckdb", token="short")
    with pytest.raises(ConfigError, match="token must be"):
        create_app("x.duckdb", token="has;semicolon;inside")
    assert len(generate_token()) >= 32 and generate_token() != generate_token()


@pytest.mark.parametrize(
    "host,loopback",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.8.0.1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
