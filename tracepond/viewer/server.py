"""The viewer's web server: a Starlette app over one store, and a uvicorn runner.

    app = create_app("tracepond.duckdb")             # loopback only, no token
    serve("tracepond.duckdb", host="0.0.0.0", port=5454, token=None)   # prints a generated token

The app serves the single-page viewer (static files shipped in the package), the JSON API under
/api/ (tracepond.viewer.api) and OTLP/HTTP ingest at POST /v1/traces (tracepond.viewer.ingest).
"""

from __future__ import annotations

import errno
import re
import secrets
import socket
import threading
import webbrowser
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tracepond.errors import ConfigError
from tracepond.viewer import api, ingest, prompts, quality, store_access
from tracepond.viewer.grpc_ingest import DEFAULT_GRPC_PORT, GrpcIngest, start_grpc_ingest
from tracepond.viewer.queries import SQL_CONSOLE_TIMEOUT_S
from tracepond.viewer.security import Guard, is_loopback_host

STATIC_DIR = Path(__file__).parent / "static"
_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{8,256}$")


def check_token(token: str) -> str:
    """A token must be URL- and cookie-safe and long enough to resist guessing."""
    if not _TOKEN_PATTERN.match(token):
        raise ConfigError(
            "token must be 8 to 256 characters of letters, digits, '.', '_', '~' or '-'"
        )
    return token


def generate_token() -> str:
    return secrets.token_urlsafe(24)


async def index(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})


def create_app(
    store: str | Path, token: str | None = None, *, sql_timeout_s: float = SQL_CONSOLE_TIMEOUT_S
) -> Any:
    """The viewer as an ASGI app over the store at ``store``; ``token`` guards every request;
    the SQL console stops a statement after ``sql_timeout_s``."""
    if token is not None:
        check_token(token)
    store_path = str(store)
    starlette = Starlette(
        routes=[
            Route("/", index),
            *prompts.routes(),  # before api's catch-all /api/{rest}
            *quality.routes(),  # before api's catch-all for unknown /api/ paths
            *api.routes(),
            Route("/v1/traces", ingest.export_traces, methods=["POST"]),
            Mount(
                "/static",
                # the viewer's own pages, then the trace view it shares with the notebook
                StaticFiles(directory=STATIC_DIR, packages=[("tracepond.display", "static")]),
                name="static",
            ),
        ],
    )
    starlette.state.store = store_path
    starlette.state.ingest = ingest.IngestWriter(store_path)
    starlette.state.sql_timeout_s = sql_timeout_s
    return Guard(starlette, token)


def serve(
    store: str | Path,
    host: str = "127.0.0.1",
    port: int = 5454,
    token: str | None = None,
    open_browser: bool = False,
    ready: threading.Event | None = None,
    grpc_port: int | None = None,
) -> None:
    """Run the viewer until interrupted. A non-loopback host always gets a token.

    ``grpc_port``: OTLP/gRPC ingest beside HTTP; None is the default port, served when it can be
    (else one notice), 0 is off, any other number must be served (else ConfigError).
    """
    import uvicorn

    if token is None and not is_loopback_host(host):
        token = generate_token()
    store_access.check_store(
        str(store)
    )  # a store that can never be written is an error now, not at ingest
    sock = _bind(host, port)  # before anything is printed: a port in use is a one-line error
    port = int(sock.getsockname()[1])
    app = create_app(store, token=token)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/"
    if token:
        url += f"?token={token}"
    print(f"tracepond viewer on {url}  (store: {store})", flush=True)
    if token:
        print(
            "OTLP exporters: OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20" + token, flush=True
        )
    grpc_ingest = _start_grpc(app.app.state.ingest, host, grpc_port, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if open_browser or ready is not None:
        threading.Thread(
            target=_when_started, args=(server, url, open_browser, ready), daemon=True
        ).start()
    try:
        server.run(sockets=[sock])
    finally:
        grpc_ingest.stop()


def _start_grpc(
    writer: ingest.IngestWriter, host: str, grpc_port: int | None, token: str | None
) -> GrpcIngest:
    """OTLP/gRPC beside HTTP, on the same writer; says once on stdout what it serves."""
    if grpc_port == 0:
        return GrpcIngest()
    started = start_grpc_ingest(writer, host, grpc_port or DEFAULT_GRPC_PORT, token)
    if started.problem is None:
        shown_host = f"[{host}]" if ":" in host else host
        print(f"OTLP/gRPC ingest on http://{shown_host}:{started.port}", flush=True)
    elif grpc_port is None:  # the default: HTTP alone is a working viewer
        print(f"OTLP/gRPC ingest off ({started.problem}); OTLP/HTTP at /v1/traces", flush=True)
    else:
        raise ConfigError(f"--grpc-port {grpc_port}: {started.problem}")
    return started


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket uvicorn serves on (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use; pick another with --port"
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _when_started(server: Any, url: str, open_browser: bool, ready: threading.Event | None) -> None:
    while not server.started and not server.should_exit:
        threading.Event().wait(0.05)
    if ready is not None:
        ready.set()
    if open_browser and server.started:
        webbrowser.open(url)
