"""`tracepond mcp`: serve the MCP server over stdio or HTTP (registered in tracepond/cli.py)."""

from __future__ import annotations

import click

from tracepond.errors import ConfigError
from tracepond.mcp.http import serve_http
from tracepond.mcp.server import build_server
from tracepond.store.connection import resolve_store


@click.command("mcp")
@click.option(
    "--store",
    "store",
    envvar="TRACEPOND_STORE",
    default=None,
    help="Store file (default: TRACEPOND_STORE, then ./tracepond.duckdb).",
)
@click.option("--http", "over_http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option(
    "--port",
    default=5455,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port for --http (always on 127.0.0.1).",
)
@click.option(
    "--read-only", is_flag=True, help="Leave out log_feedback, the only tool that writes."
)
@click.option(
    "--token",
    default=None,
    envvar="TRACEPOND_MCP_TOKEN",
    help="With --http: a token every request must carry as 'Authorization: Bearer <token>'.",
)
def mcp(store: str | None, over_http: bool, port: int, read_only: bool, token: str | None) -> None:
    """Serve the Model Context Protocol so coding agents can read traces."""
    try:
        path = resolve_store(store)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if token is not None and not over_http:
        raise click.UsageError("--token applies to --http only (stdio has no network door)")
    if over_http:
        serve_http(path, port, read_only=read_only, token=token)
        return
    build_server(path, read_only=read_only).run("stdio")
