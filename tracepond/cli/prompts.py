"""``tracepond prompts``, ``tracepond prompts show NAME`` and ``tracepond prompts diff NAME V1 V2``.

Registered in `tracepond.cli`; the shared ``--store`` option and the one-line error handling
come from there.
"""

from __future__ import annotations

from typing import Any

import click

from tracepond.cli.common import clear_errors, print_rows, resolve_store, store_option
from tracepond.tracking.prompt_diff import unified_diff
from tracepond.tracking.prompt_search import prompt_summaries, version_stats
from tracepond.tracking.prompts import load_prompt


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _number(value: Any, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


@click.group(invoke_without_command=True)
@store_option
@click.pass_context
@clear_errors
def prompts(ctx: click.Context, store: str | None) -> None:
    """Prompts: latest version, aliases and the traces that loaded them. `prompts show NAME`
    for one prompt's versions, `prompts diff NAME V1 V2` to compare two."""
    ctx.ensure_object(dict)
    ctx.obj["store"] = store
    if ctx.invoked_subcommand is not None:
        return
    rows = [
        (
            row["name"],
            row["latest_version"],
            row["versions"],
            ", ".join(sorted(row["aliases"] or [])),
            row["traces"],
            _time(row["last_updated_time"]),
        )
        for row in prompt_summaries(store=resolve_store(store))
    ]
    print_rows(["name", "latest", "versions", "aliases", "traces", "updated"], rows, "table")


@prompts.command("show")
@click.argument("name")
@click.option("--version", "-v", "version", type=int, default=None, help="Print this version.")
@store_option
@click.pass_context
@clear_errors
def show_prompt(ctx: click.Context, name: str, version: int | None, store: str | None) -> None:
    """One prompt's versions with how their traces went; its latest template (or --version's)."""
    path = resolve_store(store or ctx.obj.get("store"))
    stats = version_stats(name, store=path)
    prompt = load_prompt(name, version, store=path)
    click.echo(
        f"{prompt.uri}  ({prompt.template_type}; variables: {', '.join(prompt.variables) or 'none'})"
    )
    if prompt.model_config:
        click.echo("model_config: " + ", ".join(f"{k}={v}" for k, v in prompt.model_config.items()))
    if isinstance(prompt.template, str):
        click.echo(prompt.template)
    else:
        for message in prompt.template:
            click.echo(f"[{message['role']}] {message['content']}")
    rows = [
        (
            row["version"],
            ", ".join(sorted(row["aliases"] or [])),
            row["commit_message"] or "",
            _time(row["create_time"]),
            row["traces"],
            _number(row["p50_ms"], ".1f"),
            _number(row["error_rate"], ".1%"),
            _number(row["cost_usd"], ".4f"),
            _feedback(row),
        )
        for row in stats
    ]
    columns = ["version", "aliases", "commit", "created", "traces", "p50 ms", "errors", "cost $"]
    print_rows([*columns, "feedback"], rows, "table")


def _feedback(row: dict[str, Any]) -> str:
    if row.get("feedback_count") is None:
        return ""
    mean = row.get("feedback_mean")
    return f"{row['feedback_count']}" + ("" if mean is None else f" (mean {mean:.2f})")


@prompts.command("diff")
@click.argument("name")
@click.argument("v1", type=int)
@click.argument("v2", type=int)
@store_option
@click.pass_context
@clear_errors
def diff_prompt(ctx: click.Context, name: str, v1: int, v2: int, store: str | None) -> None:
    """The template of version V1 of NAME against V2, as a unified diff."""
    path = resolve_store(store or ctx.obj.get("store"))
    old, new = load_prompt(name, v1, store=path), load_prompt(name, v2, store=path)
    text = unified_diff(old, new)
    click.echo(text if text else f"{old.uri} and {new.uri} have the same template and settings")
