"""`tracepond ui`: serve the local viewer over a store (registered in tracepond/cli/__init__.py)."""

from __future__ import annotations

import click

from tracepond.cli.common import clear_errors, resolve_store, store_option
from tracepond.errors import ConfigError


@click.command("ui")
@store_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. Anything but a loopback address requires a token.",
)
@click.option(
    "--port",
    default=5454,  # not 5000: MLflow and macOS AirPlay take that one
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--grpc-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Port for OTLP/gRPC ingest (default 4317, served when free and grpcio is installed; "
    "0 turns it off).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the viewer in a web browser.")
@click.option(
    "--token",
    default=None,
    envvar="TRACEPOND_UI_TOKEN",
    help="Token every request must carry; generated and printed when --host is not loopback.",
)
@clear_errors
def ui(
    store: str | None,
    host: str,
    port: int,
    grpc_port: int | None,
    open_browser: bool,
    token: str | None,
) -> None:
    """Serve the trace viewer, OTLP/HTTP ingest (POST /v1/traces) and OTLP/gRPC ingest."""
    from tracepond.viewer.server import check_token, serve  # starlette loads only for `ui`

    path = resolve_store(store, must_exist=False)  # the viewer may start before the first write
    try:
        if token is not None:
            check_token(token)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    serve(path, host=host, port=port, token=token, open_browser=open_browser, grpc_port=grpc_port)
