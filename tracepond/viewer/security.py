"""The viewer's guard: token check, DNS-rebinding and cross-site checks, security headers.

Written as plain ASGI middleware so it wraps every route the same way, OTLP ingest included.

Token rules (documented in docs/api.md):

- ``Authorization: Bearer <token>`` on any request (API clients, OTLP exporters via
  ``OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>``);
- ``?token=<token>`` in the URL: a page load with it gets an HttpOnly, SameSite=Strict cookie and
  a redirect to the same URL without the token, so the token does not linger in the address bar
  or in history; API and ingest calls may use it as is;
- the ``tracepond_token`` cookie set that way, on every later request of the browser.

Without a token the server only listens on a loopback address, and it answers only requests whose
Host is a loopback name: a web page on another site cannot rebind its DNS name to 127.0.0.1 and
read the traces. On every route, GET included, a request a browser sends from another site is
refused by the Fetch Metadata policy (``Sec-Fetch-Site`` cross-site or same-site, or an ``Origin``
that is another origin or ``null``). No CORS header is ever sent, so other origins cannot read
responses.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE_NAME = "tracepond_token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def is_loopback_host(host: str) -> bool:
    """True for names and addresses that reach only this machine."""
    name = host.strip().lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def cross_site_reason(headers: dict[str, str]) -> str | None:
    """Why a request came from another site, by the Fetch Metadata policy, or None.

    Every route, GET included: a page on another site may not read the traces or run SQL
    through the user's browser. ``Sec-Fetch-Site: none`` (a typed URL, a bookmark) and
    ``same-origin`` pass; a request with neither header is a script or an exporter, not a page.
    """
    site = headers.get("sec-fetch-site", "").strip().lower()
    if site in ("cross-site", "same-site"):
        return f"Sec-Fetch-Site: {site}"
    origin = headers.get("origin")
    if origin is None:
        return None
    if origin.strip().lower() == "null":
        return "Origin: null"
    if urlsplit(origin.strip()).netloc.lower() != headers.get("host", "").strip().lower():
        return f"Origin: {origin.strip()} is not this viewer"
    return None


def _host_without_port(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


class Guard:
    """Checks every HTTP request before the app sees it and adds security headers to answers."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _send_json(send, refusal[0], {"error": refusal[1], "kind": "auth"})
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if self.token and "token" in query and _is_page(scope):
            await self._redirect_with_cookie(scope, send, query)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = _host_without_port(headers.get("host", ""))
        if not self.token and not is_loopback_host(host):
            return (
                403,
                "this viewer answers only on localhost; start it with --token to serve others",
            )
        reason = cross_site_reason(headers)
        if reason is not None:
            return 403, f"cross-site requests are refused ({reason})"
        if self.token and not self._authorized(scope, headers):
            return (
                401,
                "missing or wrong token: send 'Authorization: Bearer <token>' or open the URL with ?token=<token>",
            )
        return None

    def _authorized(self, scope: Scope, headers: dict[str, str]) -> bool:
        assert self.token is not None
        candidates: list[str] = []
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            candidates.append(auth[7:].strip())
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is treated as no cookie
            cookie = SimpleCookie()
        if COOKIE_NAME in cookie:
            candidates.append(cookie[COOKIE_NAME].value)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query:
            candidates.append(query["token"])
        expected = self.token.encode()
        return any(hmac.compare_digest(c.encode(), expected) for c in candidates)

    async def _redirect_with_cookie(self, scope: Scope, send: Send, query: dict[str, str]) -> None:
        query.pop("token", None)
        location = (
            scope.get("root_path", "") + scope["path"] + (f"?{urlencode(query)}" if query else "")
        )
        cookie = f"{COOKIE_NAME}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode()),
                    (b"set-cookie", cookie.encode()),
                    (b"cache-control", b"no-store"),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def _is_page(scope: Scope) -> bool:
    path: str = scope["path"]
    return scope["method"] == "GET" and not path.startswith(("/api/", "/v1/", "/static/"))


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
