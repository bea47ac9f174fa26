"""``tracepond export`` and ``tracepond import`` (registered lazily by tracepond.cli)."""

from __future__ import annotations

import click

from tracepond.cli.common import clear_errors, resolve_store, store_option


@click.command()
@click.option(
    "--format",
    "format_",
    type=click.Choice(["parquet"]),
    default="parquet",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--out",
    "out",
    required=True,
    metavar="DIR",
    help="Folder of the dataset; exporting again into it adds only what is new.",
)
@store_option
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: on a terminal, for large exports).",
)
@clear_errors
def export(format_: str, out: str, store: str | None, progress: bool | None) -> None:
    """Export spans, span events and traces as Hive-partitioned Parquet (by day).

    Incremental and idempotent: only rows the folder does not hold are written. DuckDB, Spark,
    Trino and ClickHouse read the folder as it is; `tracepond sql --store DIR` reads it back.
    """
    from tracepond.exporters.parquet import export_parquet

    result = export_parquet(resolve_store(store), out, progress=progress)
    if result.nothing_new:
        click.echo(f"nothing new to export; {result.out} is up to date")
        return
    counts = ", ".join(f"{rows:,} {table}" for table, rows in result.rows.items())
    replaced = f", {len(result.files_removed)} replaced" if result.files_removed else ""
    click.echo(f"exported {counts} to {result.out} ({len(result.files_added)} files{replaced})")


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@store_option
@clear_errors
def import_(files: tuple[str, ...], store: str | None) -> None:
    """Import OTLP JSON files (a collector's file exporter output) into the store.

    Every file is checked before anything is written: a bad line stops the import with its file
    and line number, and the store stays as it was.
    """
    from tracepond.exporters.otlp_json import import_files

    path = resolve_store(store, must_exist=False)
    result = import_files(path, list(files))
    skipped = result.spans_read - result.spans_written
    note = f" ({skipped:,} already in the store)" if skipped else ""
    click.echo(
        f"imported {result.spans_written:,} spans from {result.lines:,} lines of "
        f"{result.files} file{'s' if result.files != 1 else ''} into {path}{note}"
    )
