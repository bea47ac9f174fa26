"""``tracepond eval list | show RUN | compare RUN_A RUN_B``: evaluations on the command line.

RUN is a run id or an evaluation's name. ``compare`` prints the per-scorer means of both runs
and the rows whose verdicts changed, regressions marked; ``--format json`` gives it all as JSON.
"""

from __future__ import annotations

import json
from typing import Any

import click

from tracepond.cli.common import clear_errors, console, print_rows, resolve_store, store_option
from tracepond.tracking import evaluation_query as query

_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table"
)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _verdict(verdict: query.Verdict | None) -> str:
    if verdict is None:
        return ""
    if verdict.error:
        return "error: " + query.as_text(verdict.error, 40)
    return query.as_text(verdict.value, 20)


@click.group("eval")
def eval_group() -> None:
    """Evaluation runs: their metrics, their rows, two runs compared."""


@eval_group.command("list")
@store_option
@click.option("--experiment", "-e", default=None, help="Only this experiment.")
@click.option("--limit", "-n", default=50, show_default=True, help="How many runs to list.")
@_FORMAT
@clear_errors
def list_command(store: str | None, experiment: str | None, limit: int, fmt: str) -> None:
    """Evaluation runs, newest first, with their means."""
    found = query.list_evaluations(
        experiment=experiment, max_results=limit, store=resolve_store(store)
    )
    columns = ["run_id", "name", "experiment", "status", "rows", "dataset", "metrics"]
    rows = [
        (e.run_id, e.name or "", e.experiment, e.status, e.rows, e.dataset or "",
         ", ".join(f"{k}={_number(v)}" for k, v in sorted(e.metrics.items())))
        for e in found
    ]  # fmt: skip
    print_rows(columns, rows, fmt=fmt)


@eval_group.command("show")
@click.argument("run")
@store_option
@_FORMAT
@clear_errors
def show_command(run: str, store: str | None, fmt: str) -> None:
    """One evaluation: each row's inputs, outputs, expectations and verdicts."""
    summary, rows = query.get_evaluation(run, store=resolve_store(store))
    if fmt == "json":
        click.echo(json.dumps({"run": summary.to_dict(), "rows": [r.to_dict() for r in rows]},
                              default=str))  # fmt: skip
        return
    scorers = sorted({name for row in rows for name in row.scores})
    if fmt == "table":
        title = f"{summary.name or summary.run_id} ({summary.experiment}, {summary.status})"
        console().print(title, markup=False)
        means = ", ".join(f"{k}={_number(v)}" for k, v in sorted(summary.metrics.items()))
        click.echo(f"run {summary.run_id}: {summary.rows} rows; {means}")
    columns = ["trace_id", "inputs", "outputs", "expectations", *scorers]
    table = [
        (row.trace_id, query.as_text(row.inputs), query.as_text(row.outputs),
         query.as_text(row.expectations) if row.expectations else "",
         *(_verdict(row.scores.get(name)) for name in scorers))
        for row in rows
    ]  # fmt: skip
    print_rows(columns, table, fmt=fmt)


@eval_group.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@store_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@clear_errors
def compare_command(run_a: str, run_b: str, store: str | None, fmt: str) -> None:
    """RUN_B against RUN_A: per-scorer means, then the rows that changed (regressions marked)."""
    found = query.compare_evaluations(run_a, run_b, store=resolve_store(store))
    if fmt == "json":
        click.echo(json.dumps(found.to_dict(), default=str))
        return
    label_a, label_b = found.a.name or found.a.run_id[:8], found.b.name or found.b.run_id[:8]
    means = [(name, _number(a), _number(b), _delta(a, b)) for name, (a, b) in found.means.items()]
    print_rows(["scorer", label_a, label_b, "change"], means, fmt="table")
    changed = [_change_row(change, found.scorers) for change in found.rows]
    click.echo(f"{len(found.rows)} row(s) changed, "
               f"{sum(1 for c in found.rows if c.regressed)} regressed")  # fmt: skip
    if changed:
        print_rows(["", "inputs", *found.scorers, "trace A", "trace B"], changed, fmt="table")


def _delta(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return ""
    return f"{b - a:+.3g}" + ("  REGRESSED" if b < a else "")


def _change_row(change: query.RowChange, scorers: list[str]) -> tuple[Any, ...]:
    mark = "REGRESSED" if change.regressed else ("only A" if change.b is None else
                                                 "only B" if change.a is None else "changed")  # fmt: skip
    row = change.a or change.b
    assert row is not None
    cells = []
    for name in scorers:
        left = _verdict(change.a.scores.get(name)) if change.a else ""
        right = _verdict(change.b.scores.get(name)) if change.b else ""
        cells.append(right if left == right else f"{left} -> {right}")
    return (mark, query.as_text(row.inputs, 40), *cells,
            change.a.trace_id if change.a else "", change.b.trace_id if change.b else "")  # fmt: skip
