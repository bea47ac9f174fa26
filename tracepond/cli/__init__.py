"""The ``tracepond`` command line.

Every command takes ``--store FILE`` (falling back to ``TRACEPOND_STORE``, then the default).
Errors print one clear line on stderr and exit non-zero, never a traceback. Subcommands owned by
other parts of the package (the viewer, exporters, runs) are imported only when invoked, so
``tracepond --help`` stays fast.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tracepond.errors import TracepondError

F = TypeVar("F", bound=Callable[..., Any])

# command name -> "module:attribute" of a click command defined by the part that owns it.
_LAZY_COMMANDS: dict[str, str] = {
    "ui": "tracepond.cli.ui:ui",
    "export": "tracepond.cli.export:export",
    "import": "tracepond.cli.export:import_",
    "runs": "tracepond.cli.runs:runs",
    "models": "tracepond.cli.runs:models",
}


class _LazyGroup(click.Group):
    """A group whose heavier subcommands load on first use (click's documented lazy pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        try:
            command = getattr(importlib.import_module(module_name), attribute)
        except ImportError as exc:
            return _missing_dependency_command(cmd_name, exc)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


def _missing_dependency_command(name: str, exc: ImportError) -> click.Command:
    """A stand-in that explains which optional dependency a command needs."""
    message = (
        f"'tracepond {name}' needs an optional dependency that is missing ({exc}). "
        'Install it with: pip install "tracepond[all]"'
    )

    def explain() -> None:
        raise click.ClickException(message)

    return click.Command(name, callback=explain, help=message, short_help="(needs tracepond[all])")


def store_option(func: F) -> F:
    """The shared ``--store`` option: explicit value, else TRACEPOND_STORE, else the default."""
    return click.option(
        "--store",
        "store",
        metavar="FILE",
        default=None,
        help="The store to read (default: $TRACEPOND_STORE, else ./tracepond.duckdb).",
    )(func)


def resolve_store(store: str | None, *, must_exist: bool = True) -> str:
    """The store path a command uses; a missing local file is a one-line error."""
    from tracepond.config import get_settings

    path = store or os.environ.get("TRACEPOND_STORE") or get_settings().store
    if not path:
        raise click.ClickException("no store is configured (use --store FILE or TRACEPOND_STORE)")
    is_local_file = "://" not in path and not os.path.isdir(path)
    if must_exist and is_local_file and not os.path.exists(path):
        raise click.ClickException(
            f"no store at {path} (run 'tracepond demo' to make one, or pass --store FILE)"
        )
    return path


def clear_errors(func: F) -> F:
    """Turn tracepond's own errors into one line and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TracepondError, ValueError) as exc:
            raise click.ClickException(_first_line(exc)) from exc

    return wrapper  # type: ignore[return-value]


def _first_line(exc: Exception) -> str:
    """DuckDB messages carry a caret diagram on later lines; a CLI error stays one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tracepond")
def main() -> None:
    """tracepond: see inside the Python apps that call LLMs."""


@main.command()
@store_option
@click.option("--limit", "-n", default=20, show_default=True, help="How many traces to list.")
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


@main.command()
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


@main.command("sql")
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
        result.columns, result.fetchall(), fmt="csv" if as_csv else "json" if as_json else "table"
    )


@main.command()
@store_option
@clear_errors
def doctor(store: str | None) -> None:
    """Check the store and the environment: schema, counts, dropped spans, providers."""
    path = resolve_store(store, must_exist=False)
    print_doctor(diagnose(path))


@main.command()
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


def _console() -> Any:
    from rich.console import Console

    # Never narrower than a trace id row: piped output defaults to 80 columns.
    return Console(
        highlight=False, soft_wrap=False, width=max(shutil.get_terminal_size().columns, 120)
    )


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


def print_traces_table(found: list[Any], store: str) -> None:
    from rich.table import Table

    if not found:
        click.echo(f"no traces in {store}")
        return
    table = Table(title=f"latest traces in {store}", title_justify="left")
    table.add_column("time", no_wrap=True)
    table.add_column("trace id", no_wrap=True, min_width=32)
    table.add_column("name", overflow="ellipsis", max_width=32)
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
            _status_text(info.status, bool(getattr(info, "in_progress", False))),
            _fmt_ms(info.duration_ms),
            _fmt_tokens(info),
            f"${info.cost_usd:.4f}" if getattr(info, "cost_usd", None) else "",
            str(info.span_count or 0),
        )
    _console().print(table)


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
    header = _status_text(info.status, bool(getattr(info, "in_progress", False)))
    header.append(f"  {info.name or ''}  {info.trace_id}  {_fmt_ms(info.duration_ms)}")
    tree = Tree(header)
    nodes: dict[str, Any] = {}
    for span in found.spans:  # parents come before children
        parent = nodes.get(span.parent_span_id or "", tree)
        nodes[span.span_id] = parent.add(_span_label(span))
    _console().print(tree)


def print_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
        return
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(dict(zip(columns, row, strict=True)), default=str))
        return
    from rich.table import Table

    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    _console().print(table)
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


# --- doctor ----------------------------------------------------------------------------------

_PROVIDER_PACKAGES = {
    "openai": "openai",
    "groq": "groq",
    "bedrock": "boto3",
    "bedrock (async)": "aiobotocore",
}


def diagnose(store: str) -> dict[str, Any]:
    """What `tracepond doctor` reports, as plain data."""
    from importlib.metadata import PackageNotFoundError, version

    report: dict[str, Any] = {"store": os.path.abspath(store) if "://" not in store else store}
    report["store_exists"] = "://" in store or os.path.exists(store)
    if report["store_exists"]:
        report.update(_store_facts(store))
    providers: dict[str, str | None] = {}
    for name, package in _PROVIDER_PACKAGES.items():
        if importlib.util.find_spec(package) is None:
            providers[name] = None
            continue
        try:
            providers[name] = version(package)
        except PackageNotFoundError:
            providers[name] = "installed"
    report["providers"] = providers
    return report


def _store_facts(store: str) -> dict[str, Any]:
    from tracepond.store.query import sql

    facts: dict[str, Any] = {}
    facts["schema_version"] = sql(
        "SELECT max(version) FROM schema_version", store=store
    ).fetchall()[0][0]
    facts["traces"] = sql("SELECT count(*) FROM traces", store=store).fetchall()[0][0]
    facts["spans"] = sql("SELECT count(*) FROM spans", store=store).fetchall()[0][0]
    from tracepond.store.query import dropped_span_counts

    facts["dropped_spans"] = dropped_span_counts(store=store)
    return facts


def print_doctor(report: dict[str, Any]) -> None:
    click.echo(f"store:           {report['store']}")
    if not report["store_exists"]:
        click.echo("                 (does not exist yet; the first traced call creates it)")
    else:
        click.echo(f"schema version:  {report['schema_version']}")
        click.echo(f"traces:          {report['traces']:,}")
        click.echo(f"spans:           {report['spans']:,}")
        dropped = report["dropped_spans"]
        total = sum(dropped.values()) if dropped else 0
        detail = (
            ", ".join(f"{k}: {v:,}" for k, v in sorted(dropped.items()) if v) if dropped else ""
        )
        click.echo(f"dropped spans:   {total:,}" + (f"  ({detail})" if detail else ""))
    click.echo("providers autolog can patch:")
    for name, found in report["providers"].items():
        status = f"yes ({found})" if found else f'no (pip install "tracepond[{name.split()[0]}]")'
        click.echo(f"  {name:<16} {status}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
