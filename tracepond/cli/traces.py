"""`tracepond traces`, `show`, `sql` and `demo`: reading the store from the command line."""

from __future__ import annotations

from typing import Any

import click

from tracepond.cli.common import (
    clear_errors,
    console,
    limit_option,
    print_rows,
    resolve_store,
    store_option,
)
from tracepond.display.numbers import format_cost, plural


@click.command()
@store_option
@limit_option(20, "traces")
@click.option(
    "--filter", "filter_", default=None, help="A search_traces filter, e.g. \"status = 'ERROR'\"."
)
@clear_errors
def traces(store: str | None, limit: int, filter_: str | None) -> None:
    """The latest traces as a table."""
    from tracepond.store.query import search_traces

    path = resolve_store(store)
    found = search_traces(
        filter=filter_, order_by=["start_time DESC"], max_results=limit, store=path
    )
    print_traces_table(found, path)


@click.command()
@click.argument("trace_id")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole trace as JSON.")
@clear_errors
def show(trace_id: str, store: str | None, as_json: bool) -> None:
    """One trace as a span tree with durations and statuses."""
    from tracepond.store.query import get_trace

    path = resolve_store(store)
    found = get_trace(trace_id, store=path)
    if found is None:
        raise click.ClickException(f"no trace with id {trace_id!r} in {path}")
    if as_json:
        click.echo(found.to_json())
    else:
        print_trace_tree(found)


@click.command("sql")
@click.argument("query")
@store_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@clear_errors
def sql_command(query: str, store: str | None, as_csv: bool, as_json: bool) -> None:
    """Run read-only SQL over the store (tables: traces, spans, span_events, runs, ...)."""
    from tracepond.store.query import sql

    result = sql(query, store=resolve_store(store))
    print_rows(
        result.columns, result.fetchall(), fmt="csv" if as_csv else "json" if as_json else "auto"
    )


@click.command()
@store_option
@click.option("--quiet", "-q", is_flag=True, help="Only print where the traces went.")
@clear_errors
def demo(store: str | None, quiet: bool) -> None:
    """Trace a small sample app (no API keys, no network) and say where to look."""
    from tracepond.demo import run_demo

    path = resolve_store(store, must_exist=False)
    summary = run_demo(path, echo=(lambda _msg: None) if quiet else click.echo)
    click.echo(summary)


# --- rendering -------------------------------------------------------------------------------

_STATUS_STYLE = {"OK": "green", "ERROR": "bold red", "UNSET": "yellow"}


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "…"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def _fmt_tokens(info: Any) -> str:
    total = (info.input_tokens or 0) + (info.output_tokens or 0)
    return f"{total:,}" if total else ""


def _status_text(status: str | None, in_progress: bool = False) -> Any:
    from rich.text import Text

    if in_progress:
        return Text("RUNNING", style="cyan")
    label = status or "UNSET"
    return Text(label, style=_STATUS_STYLE.get(label, ""))


def _with_failed_steps(text: Any, info: Any) -> Any:
    """A trace that recovered from a failed step is visibly not clean: 'OK ✗1'."""
    failed = getattr(info, "error_count", 0) or 0
    if failed:
        text.append(f" ✗{failed}", style="red")
    return text


def print_traces_table(found: list[Any], store: str) -> None:
    from rich.table import Table

    if not found:
        click.echo(f"no traces in {store}")
        return
    table = Table(title=f"latest {plural(len(found), 'trace')} in {store}", title_justify="left")
    table.add_column("time", no_wrap=True)
    table.add_column("trace id", no_wrap=True, min_width=32)
    table.add_column("name", overflow="ellipsis", min_width=12, max_width=32)
    table.add_column("status", no_wrap=True)
    for column in ("duration", "tokens", "cost", "spans"):
        table.add_column(column, justify="right", no_wrap=True)
    for item in found:
        info = item.info
        started = info.start_time.strftime("%m-%d %H:%M:%S") if info.start_time else ""
        table.add_row(
            started,
            info.trace_id,
            info.name or "",
            _with_failed_steps(
                _status_text(info.status, bool(getattr(info, "in_progress", False))), info
            ),
            _fmt_ms(info.duration_ms),
            _fmt_tokens(info),
            format_cost(info.cost_usd) if getattr(info, "cost_usd", None) else "",
            str(info.span_count or 0),
        )
    console().print(table)
    if any(getattr(item.info, "error_count", 0) for item in found):
        click.echo("✗N: the trace has N failed steps (spans in status ERROR)")


def _span_label(span: Any) -> Any:
    from rich.text import Text

    label = Text(span.name or "(unnamed)", style="bold")
    label.append(f"  {span.span_type or ''}", style="dim")
    label.append(f"  {_fmt_ms(span.duration_ms)}  ")
    label.append_text(_status_text(span.status))
    model = getattr(span, "model", None)
    if model and model not in (span.name or ""):
        label.append(f"  {model}", style="magenta")
    tokens = (getattr(span, "input_tokens", None) or 0) + (
        getattr(span, "output_tokens", None) or 0
    )
    if tokens:
        label.append(f"  {tokens:,} tokens", style="dim")
    if span.status == "ERROR" and getattr(span, "status_message", None):
        label.append(f"  {span.status_message}", style="red")
    return label


def print_trace_tree(found: Any) -> None:
    from rich.tree import Tree

    info = found.info
    header = _with_failed_steps(
        _status_text(info.status, bool(getattr(info, "in_progress", False))), info
    )
    header.append(f"  {info.name or ''}  {info.trace_id}  {_fmt_ms(info.duration_ms)}")
    tree = Tree(header)
    nodes: dict[str, Any] = {}
    for span in found.spans:  # parents come before children
        parent = nodes.get(span.parent_span_id or "", tree)
        nodes[span.span_id] = parent.add(_span_label(span))
    console().print(tree)
