"""``tracepond runs``, ``tracepond models`` and ``tracepond models show NAME``.

The lead registers `runs` and `models` in `tracepond.cli`; the shared ``--store`` option and the
one-line error handling come from there.
"""

from __future__ import annotations

from typing import Any

import click

from tracepond.cli.common import clear_errors, limit_option, print_rows, resolve_store, store_option
from tracepond.errors import NotFoundError


def _short(mapping: dict[str, Any], limit: int = 4) -> str:
    """'k=v, k=v' of the first entries, '…' when more."""
    items = [f"{k}={_number(v)}" for k, v in sorted(mapping.items())[:limit]]
    return ", ".join(items) + (", …" if len(mapping) > limit else "")


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


@click.command()
@store_option
@click.option("--experiment", "-e", "experiments", multiple=True, help="Only this experiment.")
@click.option("--filter", "filter_", default=None, help='e.g. "metrics.accuracy > 0.9".')
@click.option("--order-by", "order_by", multiple=True, help='e.g. "metrics.accuracy DESC".')
@limit_option(50, "runs")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@clear_errors
def runs(
    store: str | None,
    experiments: tuple[str, ...],
    filter_: str | None,
    order_by: tuple[str, ...],
    limit: int,
    fmt: str,
) -> None:
    """Runs, newest first: status, params and latest metrics."""
    from tracepond.tracking.run_search import search_runs

    found = search_runs(
        filter=filter_,
        order_by=list(order_by) or None,
        experiment=list(experiments) or None,
        max_results=limit,
        store=resolve_store(store),
    )
    columns = ["run_id", "name", "status", "start_time", "parent", "params", "metrics"]
    rows = [
        (
            run.info.run_id,
            run.info.name or "",
            run.info.status,
            _time(run.info.start_time),
            (run.info.parent_run_id or "")[:8],
            _short(run.data.params),
            _short(run.data.metrics),
        )
        for run in found
    ]
    print_rows(columns, rows, fmt=fmt)


_STAT_COLUMNS = ["traces", "p50 ms", "p95 ms", "errors", "tokens in", "tokens out", "cost $"]


@click.group(invoke_without_command=True)
@store_option
@click.pass_context
@clear_errors
def models(ctx: click.Context, store: str | None) -> None:
    """Registered models (latest version, aliases, traces) and logged models with their trace
    stats. `models show NAME` for one."""
    ctx.ensure_object(dict)
    ctx.obj["store"] = store
    if ctx.invoked_subcommand is not None:
        return
    from tracepond.tracking.model_search import search_registered_models
    from tracepond.tracking.model_stats import model_stats

    path = resolve_store(store)
    stats = model_stats(store=path)
    traces: dict[str, dict[str, int]] = {}  # registered name -> model_id -> trace count
    for row in stats:
        if row.version is not None:
            traces.setdefault(row.name, {})[row.model_id] = row.trace_count
    rows = [
        (
            model.name,
            model.latest_version,
            ", ".join(f"{alias}=v{version}" for alias, version in model.aliases.items()),
            sum(traces.get(model.name, {}).values()),
            _time(model.last_updated_time),
            model.description or "",
        )
        for model in search_registered_models(store=path)
    ]
    click.echo("Registered models")
    print_rows(["name", "latest", "aliases", "traces", "updated", "description"], rows, "table")
    logged = [(s.model_id, s.name, *_stats_row(s)) for s in stats if s.version is None]
    click.echo("Logged models")
    print_rows(["model_id", "name", *_STAT_COLUMNS], logged, "table")


def _stats_row(stats: Any) -> tuple[Any, ...]:
    def ms(value: float | None) -> str:
        return "" if value is None else f"{value:.1f}"

    return (
        stats.trace_count,
        ms(stats.p50_latency_ms),
        ms(stats.p95_latency_ms),
        f"{stats.error_rate:.1%}",
        stats.input_tokens,
        stats.output_tokens,
        f"{stats.cost_usd:.4f}",
    )


@models.command("show")
@click.argument("name")
@store_option
@click.pass_context
@clear_errors
def show_model(ctx: click.Context, name: str, store: str | None) -> None:
    """One model's versions, aliases and per-version stats (or a logged model's stats)."""
    from tracepond.tracking.model_search import search_model_versions
    from tracepond.tracking.model_stats import model_stats
    from tracepond.tracking.registry import get_registered_model

    path = resolve_store(store or ctx.obj.get("store"))
    stats = model_stats(name, store=path)
    try:
        registered = get_registered_model(name, store=path)
    except NotFoundError:
        logged = [s for s in stats if s.version is None]
        if not logged:
            raise NotFoundError(f"no registered or logged model named {name!r} in {path}") from None
        click.echo(f"{name}: logged model(s), not registered")
        print_rows(
            ["model_id", *_STAT_COLUMNS], [(s.model_id, *_stats_row(s)) for s in logged], "table"
        )
        return
    click.echo(f"{registered.name}: latest version {registered.latest_version}")
    if registered.description:
        click.echo(registered.description)
    aliases = ", ".join(f"{a} -> v{v}" for a, v in registered.aliases.items()) or "(none)"
    click.echo(f"aliases: {aliases}")
    by_version = {s.version: s for s in stats if s.version is not None}
    rows = []
    for version in search_model_versions(filter=f"name = '{_quote(name)}'", store=path):
        version_stats = by_version.get(version.version)
        rows.append(
            (
                version.version,
                version.model_id,
                ", ".join(version.aliases),
                _short(version.tags),
                _time(version.creation_time),
                *(_stats_row(version_stats) if version_stats else ("",) * len(_STAT_COLUMNS)),
            )
        )
    print_rows(["version", "model_id", "aliases", "tags", "created", *_STAT_COLUMNS], rows, "table")


def _quote(text: str) -> str:
    """A value inside a single-quoted filter literal."""
    return text.replace("'", "''")
