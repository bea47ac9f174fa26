"""What every command shares: the ``--store`` option and its one resolution, one-line errors,
and the table/CSV/JSON printer."""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tracepond.config import build_settings
from tracepond.errors import TracepondError

F = TypeVar("F", bound=Callable[..., Any])


def store_option(func: F) -> F:
    """The shared ``--store`` option: explicit value, else TRACEPOND_STORE, else the default."""
    return click.option(
        "--store",
        "store",
        metavar="FILE",
        default=None,
        help="The store to read (default: $TRACEPOND_STORE, else ./tracepond.duckdb).",
    )(func)


def limit_option(default: int, what: str) -> Callable[[F], F]:
    """``--limit`` / ``-n``: how many rows a listing shows (at least one, named as typed)."""
    return click.option(
        "--limit",
        "-n",
        default=default,
        show_default=True,
        type=click.IntRange(min=1),
        help=f"How many {what} to list.",
    )


def resolve_store(store: str | None, *, must_exist: bool = True) -> str:
    """The store path a command uses; a missing local file is a one-line error."""
    # Settings read afresh: the environment (TRACEPOND_STORE) as it is now, then the default.
    path = store or build_settings().store
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
        except OSError as exc:  # a read-only filesystem, a full disk, a port taken, ...
            raise click.ClickException(_first_line(exc)) from exc

    return wrapper  # type: ignore[return-value]


def _first_line(exc: Exception) -> str:
    """DuckDB messages carry a caret diagram on later lines; a CLI error stays one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def console() -> Any:
    from rich.console import Console  # rich loads only when a command prints a table

    # Never narrower than a trace id row: piped output defaults to 80 columns.
    return Console(
        highlight=False, soft_wrap=False, width=max(shutil.get_terminal_size().columns, 120)
    )


def print_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
        return
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(dict(zip(columns, row, strict=True)), default=str))
        return
    if fmt == "auto" and _table_width(columns, rows) > console().width:
        _print_records(columns, rows)  # a wide result (SELECT * FROM spans) stays readable
        return
    from rich.table import Table

    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    console().print(table)
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _table_width(columns: list[str], rows: list[tuple[Any, ...]]) -> int:
    """How wide the table would be: every cell on one line, three characters between cells."""
    widths = [len(column) for column in columns]
    for row in rows[:200]:
        for index, value in enumerate(row):
            longest = max((len(line) for line in _cell(value).splitlines()), default=0)
            widths[index] = max(widths[index], longest)
    return sum(widths) + 3 * len(columns) + 1


def _print_records(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """A table too wide for the terminal, one record per block (like psql's expanded mode)."""
    name_width = max((len(column) for column in columns), default=0)
    for number, row in enumerate(rows, start=1):
        click.echo(f"-[ row {number} ]" + "-" * max(0, name_width - 6))
        for column, value in zip(columns, row, strict=True):
            text = _cell(value).replace("\n", "\n" + " " * (name_width + 3))
            click.echo(f"{column.ljust(name_width)} | {text}")
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
