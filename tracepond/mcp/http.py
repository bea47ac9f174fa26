"""``tracepond mcp --http``: the MCP server over streamable HTTP, on loopback only.

The viewer's doors (DESIGN.md) apply to every request, before the SDK sees it:

- the ``Host`` header must be a loopback name (no DNS rebinding onto 127.0.0.1);
- ``Sec-Fetch-Site: cross-site`` or ``same-site`` is refused (403): a web page in the user's
  browser cannot drive the agent's tools;
- an ``Origin`` that is not this server's own origin, or ``null``, is refused (403);
- requests with neither header (agents, scripts, curl) are served;
- with a token (``--token`` or ``TRACEPOND_MCP_TOKEN``), every request needs
  ``Authorization: Bearer <token>`` (401 otherwise).
"""

from __future__ import annotations

import hmac
import ipaddress
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
import uvicorn

from tracepond.mcp.server import build_server

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HOST = "127.0.0.1"
PATH = "/mcp"


def _loopback(host_header: str) -> bool:
    name = host_header.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Doors:
    """ASGI middleware refusing what the viewer's doors refuse; everything else passes."""

    def __init__(self, app: ASGIApp, token: str | None = None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(
                {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            )
            if refusal is not None:
                await _answer(send, *refusal)
                return
        await self.app(scope, receive, send)

    def refusal(self, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if not _loopback(host):
            return 403, "this MCP server answers only on localhost"
        if headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
            return 403, "cross-site requests are refused"
        origin = headers.get("origin")
        if origin is not None and origin.lower() != f"http://{host}".lower():
            return 403, "requests from another origin are refused"
        if self.token is not None:
            auth = headers.get("authorization", "")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return 401, "missing or wrong token: send 'Authorization: Bearer <token>'"
        return None


async def _answer(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"error": message, "kind": "auth"})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def http_app(store: str, *, read_only: bool = False, token: str | None = None) -> Any:
    """The MCP server as an ASGI app (streamable HTTP at /mcp) behind the doors."""
    server = build_server(store, read_only=read_only)
    return Doors(server.streamable_http_app(streamable_http_path=PATH, host=HOST), token)


def serve_http(store: str, port: int, *, read_only: bool = False, token: str | None = None) -> None:
    """Serve until interrupted; says where on stderr (stdout is the app's)."""
    app = http_app(store, read_only=read_only, token=token)
    print(f"tracepond MCP server on http://{HOST}:{port}{PATH}  (store: {store})", file=sys.stderr)
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)
