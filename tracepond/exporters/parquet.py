"""``tracepond export --format parquet``: the store as a Hive-partitioned Parquet dataset.

Layout (``DIR`` is the ``--out`` folder)::

    DIR/spans/date=2026-11-29/part-<uuid>.parquet        one folder per UTC day of start_time
    DIR/span_events/date=2026-11-29/part-<uuid>.parquet  by the event's time
    DIR/traces/date=2026-11-29/part-<uuid>.parquet       by the trace's start_time
    DIR/_tracepond_export.json                           the manifest: one entry per export run

Column names are the store's; types are standard Parquet ones (strings, int64, double, boolean,
timestamps as UTC-adjusted microseconds), JSON columns written as plain strings, so DuckDB, Spark,
Trino, ClickHouse and pandas read the files as they are. The ``date`` partition column
lives in the folder names only, as Hive expects.

Incremental and idempotent, with the dataset as its own watermark: each run writes only the rows
the folder does not already hold (spans by trace_id + span_id, events by span + name + time,
traces by their whole row). Running it again writes nothing. Spans and events never change once
stored, so their files are only ever added. A ``traces`` row can change after it was exported (a
late span raises span_count, an in-progress trace finishes): the partitions holding an outdated
row are rewritten, new file in first, old files removed after, so a reader scanning at that very
moment may see the trace twice, never zero times.

Files are written to ``DIR/.staging-<uuid>/`` and moved into place with ``os.replace`` only when
complete, so an interrupted export leaves no half-written Parquet where readers look; the next
run removes the staging folder and writes what is still missing. The store is opened read-only
(the store's own ``open_store``, which waits for another writer's lock) once per chunk, one day
of one table, so writers, in this process or others, wait at most one chunk. Needs pyarrow: the
rows travel from the store's connection to the Parquet writer as Arrow batches.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from tracepond.errors import ExportError
from tracepond.store.connection import DEFAULT_TIMEOUT_S, open_store

MANIFEST = "_tracepond_export.json"
MANIFEST_FORMAT = 1
TABLES = ("spans", "span_events", "traces")
DATE_COLUMN = {"spans": "start_time", "span_events": "time", "traces": "start_time"}
KEY_COLUMNS = {
    "spans": ("trace_id", "span_id"),
    "span_events": ("trace_id", "span_id", "name", "time"),
}
PROGRESS_MIN_ROWS = 50_000  # a progress bar below this many rows only flickers

# DuckDB types written as they are; TIMESTAMP becomes a UTC-adjusted timestamp (the store keeps
# UTC without a zone; every engine, Spark before 3.4 included, reads UTC-adjusted micros), and
# anything else (JSON, UUID, HUGEINT, ...) becomes VARCHAR.
_PORTABLE_TYPES = frozenset(
    {"VARCHAR", "BIGINT", "INTEGER", "SMALLINT", "DOUBLE", "FLOAT", "BOOLEAN", "DATE"}
)
_MAX_MANIFEST_RUNS = 200


@dataclass
class ExportResult:
    """What one export run did."""

    out: str
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)

    @property
    def nothing_new(self) -> bool:
        return not self.files_added and not self.files_removed


@dataclass
class _Chunk:
    table: str
    day: str
    rows: int


ProgressHook = Callable[[str, int], None]  # (description, rows done in this step)


def export_parquet(
    store: str,
    out: str | os.PathLike[str],
    *,
    progress: bool | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> ExportResult:
    """Export what ``out`` does not hold yet; returns the rows and files written.

    ``progress``: show a rich progress bar (None: only when there are at least
    ``PROGRESS_MIN_ROWS`` rows to write and stderr is a terminal).
    Raises StoreError for a missing or foreign store, ExportError for an unusable ``out``.
    """
    store = str(store)
    try:
        import pyarrow  # noqa: F401 - rows reach the Parquet writer as Arrow batches
    except ImportError as error:
        raise ExportError(
            "tracepond export needs pyarrow: pip install pyarrow (or tracepond[all])"
        ) from error
    with open_store(store, read_only=True, timeout_s=timeout_s):
        pass  # checks the file is a tracepond store and migrates an older one
    root = _prepare_out(Path(out))
    result = ExportResult(out=str(root))
    session = _Session(store, timeout_s)
    with _export_lock(root), _staging(root) as staging, contextlib.closing(session):
        plan = _plan(session, root)
        with _progress_bar(plan, progress) as advance:
            for chunk in plan:
                if chunk.table == "traces":
                    _export_traces_day(session, root, staging, chunk.day, result)
                else:
                    _export_append_day(session, root, staging, chunk, result)
                advance(f"{chunk.table} {chunk.day}", chunk.rows)
        _write_manifest(root, store, result)
    return result


# --- the export folder -----------------------------------------------------------------------


def _prepare_out(root: Path) -> Path:
    root = root.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ExportError(f"--out {root} is a file; give a folder for the Parquet dataset")
    if root.is_dir() and any(root.iterdir()) and not (root / MANIFEST).exists():
        raise ExportError(
            f"{root} is not empty and holds no tracepond export ({MANIFEST}); "
            "choose an empty folder or a previous export's folder"
        )
    if not root.parent.is_dir():
        raise ExportError(f"cannot create {root}: the folder {root.parent} does not exist")
    root.mkdir(exist_ok=True)
    return root


@contextlib.contextmanager
def _export_lock(root: Path) -> Iterator[None]:
    """One export at a time per folder (a second one would write the same rows twice)."""
    lock_path = root / ".export.lock"
    try:
        descriptor = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        raise ExportError(
            f"another export into {root} is running (or one crashed: delete {lock_path})"
        ) from None
    try:
        os.write(descriptor, str(os.getpid()).encode())
        os.close(descriptor)
        yield
    finally:
        lock_path.unlink(missing_ok=True)


@contextlib.contextmanager
def _staging(root: Path) -> Iterator[Path]:
    for leftover in root.glob(".staging-*"):  # from an interrupted run; we hold the lock
        shutil.rmtree(leftover, ignore_errors=True)
    staging = root / f".staging-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _existing_files(root: Path, table: str, day: str | None = None) -> list[Path]:
    pattern = f"date={day}/*.parquet" if day else "date=*/*.parquet"
    return sorted((root / table).glob(pattern))


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(_quote(str(path)) for path in paths) + "]"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- reading the store ------------------------------------------------------------------------


class _Session:
    """One in-memory DuckDB (the work connection) for the whole export, and the store opened
    read-only through :func:`tracepond.store.connection.open_store` for one chunk at a time.

    The store connection is the store's own short-lived one (its retry on another process's
    lock, and its per-file lock inside this process, so an export in a process whose span
    processor writes the same store takes turns with it). It cannot touch files, so rows travel
    to the work connection as Arrow batches, which writes the Parquet."""

    def __init__(self, store: str, timeout_s: float) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self.conn = duckdb.connect(config={"autoinstall_known_extensions": False})
        self.conn.execute("SET TimeZone = 'UTC'")  # TIMESTAMP -> TIMESTAMPTZ: store times are UTC

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The store, read-only, for one chunk; the work connection's temp state is dropped after."""
        try:
            with open_store(self.store, read_only=True, timeout_s=self.timeout_s) as store_conn:
                yield store_conn
        finally:
            for name in _TEMP_TABLES:
                self.conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
            with contextlib.suppress(duckdb.Error):
                self.conn.unregister("store_rows")

    def stream(
        self, store_conn: duckdb.DuckDBPyConnection, table: str, day: str
    ) -> list[tuple[str, str]]:
        """Register one day of ``table`` as ``store_rows`` in the work connection (streamed as
        Arrow batches while ``store_conn`` is open); returns the table's (column, type) list."""
        columns = [
            (str(name), str(kind))
            for name, kind in store_conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]
        select = ", ".join(
            f't."{name}"' if kind in _PORTABLE_TYPES or kind == "TIMESTAMP"
            else f't."{name}"::VARCHAR AS "{name}"'
            for name, kind in columns
        )  # fmt: skip
        reader = store_conn.sql(
            f"SELECT {select} FROM {table} t WHERE {_day_filter(DATE_COLUMN[table])}",
            params=[day],
        ).to_arrow_reader(_ROWS_PER_BATCH)
        self.conn.register("store_rows", reader)
        return columns


_TEMP_TABLES = ("exported", "current_day", "exported_day", "moved", "changed")
_ROWS_PER_BATCH = 50_000


def _portable_select(columns: list[tuple[str, str]]) -> str:
    """``store_rows`` columns as written: UTC instants for times, plain types for the rest."""
    return ", ".join(
        f't."{name}"::TIMESTAMPTZ AS "{name}"' if kind == "TIMESTAMP" else f't."{name}"'
        for name, kind in columns
    )


def _day_expression(column: str) -> str:
    return f"strftime(coalesce(t.{column}, TIMESTAMP '1970-01-01'), '%Y-%m-%d')"


def _day_filter(column: str) -> str:
    """Rows of one UTC day (parameter: the day as text); NULL times count as 1970-01-01."""
    return f"{_day_expression(column)} = ?"


def _plan(session: _Session, root: Path) -> list[_Chunk]:
    """Which (table, day) chunks may hold rows the folder lacks, with their store row counts.

    A day whose store row count equals the exported row count of that day is skipped without
    reading it (spans and events are append-only, so equal counts mean equal rows); traces days
    are compared row by row in the chunk itself.
    """
    chunks: list[_Chunk] = []
    with session.reading() as store_conn:
        for table in TABLES:
            stored = dict(
                store_conn.execute(
                    f"SELECT {_day_expression(DATE_COLUMN[table])} AS day, count(*) "
                    f"FROM {table} t GROUP BY day ORDER BY day"
                ).fetchall()
            )
            exported = _exported_counts(session.conn, root, table)
            for day, count in stored.items():
                if table == "traces" or exported.get(day, 0) != count:
                    chunks.append(_Chunk(table, day, int(count)))
            if table == "traces":
                # A trace whose start moved to an earlier day leaves a stale row behind.
                chunks.extend(_Chunk(table, day, 0) for day in exported if day not in stored)
    return chunks


def _exported_counts(conn: duckdb.DuckDBPyConnection, root: Path, table: str) -> dict[str, int]:
    files = _existing_files(root, table)
    if not files:
        return {}
    rows = conn.execute(
        f"SELECT date::VARCHAR, count(*) FROM read_parquet({_sql_list(files)}, "
        "hive_partitioning = true, hive_types = {'date': VARCHAR}) GROUP BY ALL"
    ).fetchall()
    return {day: int(count) for day, count in rows}


# --- spans and span_events: append what is missing --------------------------------------------


def _export_append_day(
    session: _Session, root: Path, staging: Path, chunk: _Chunk, result: ExportResult
) -> None:
    table, day = chunk.table, chunk.day
    keys = KEY_COLUMNS[table]
    existing = _existing_files(root, table, day)
    conn = session.conn
    with session.reading() as store_conn:
        columns = session.stream(store_conn, table, day)
        anti_join = ""
        if existing:
            conn.execute(
                f"CREATE TEMP TABLE exported AS SELECT {', '.join(keys)} "
                f"FROM read_parquet({_sql_list(existing)}, union_by_name = true)"
            )
            match = " AND ".join(f"e.{key} IS NOT DISTINCT FROM t.{key}" for key in keys)
            anti_join = f"WHERE NOT EXISTS (SELECT 1 FROM exported e WHERE {match})"
        query = f"SELECT {_portable_select(columns)} FROM store_rows t {anti_join}"
        written = _copy_day(conn, query, [], staging, table, day)
    if written:
        result.rows[table] += written[1]
        result.files_added.append(_publish(written[0], root, table, day))


# --- traces: rewrite the days whose rows changed ----------------------------------------------


def _export_traces_day(
    session: _Session, root: Path, staging: Path, day: str, result: ExportResult
) -> None:
    existing = _existing_files(root, "traces", day)
    conn = session.conn
    with session.reading() as store_conn:
        columns = session.stream(store_conn, "traces", day)
        conn.execute(
            f"CREATE TEMP TABLE current_day AS SELECT {_portable_select(columns)} FROM store_rows t"
        )
        if existing:
            conn.execute(
                f"CREATE TEMP TABLE exported_day AS SELECT * EXCLUDE (date) FROM read_parquet("
                f"{_sql_list(existing)}, hive_partitioning = true, union_by_name = true)"
            )
        else:
            conn.execute("CREATE TEMP TABLE exported_day AS SELECT * FROM current_day LIMIT 0")
        # Exported traces of this day that the store now files under another day.
        elsewhere = [
            row[0]
            for row in conn.execute(
                "SELECT trace_id FROM exported_day "
                "WHERE trace_id NOT IN (SELECT trace_id FROM current_day)"
            ).fetchall()
        ]
        moved = [
            row[0]
            for row in store_conn.execute(
                "SELECT trace_id FROM traces WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))",
                [elsewhere],
            ).fetchall()
        ] if elsewhere else []  # fmt: skip
        conn.execute("CREATE TEMP TABLE moved AS SELECT unnest(?::VARCHAR[]) AS trace_id", [moved])
        conn.execute(
            "CREATE TEMP TABLE changed AS "
            "SELECT * FROM current_day EXCEPT SELECT * FROM exported_day"
        )
        changed = _count(conn, "SELECT * FROM changed")
        stale = _count(
            conn,
            "SELECT trace_id FROM exported_day WHERE trace_id IN (SELECT trace_id FROM changed) "
            "OR trace_id IN (SELECT trace_id FROM moved)",
        )
        if not changed and not stale:
            return
        if not stale:  # only new traces: a new file beside the existing ones
            written = _copy_day(conn, "SELECT * FROM changed", [], staging, "traces", day)
        else:
            # Outdated rows: the day is rewritten from the store's rows, keeping exported
            # traces the store no longer has (an export is never pruned by the store).
            written = _copy_day(
                conn,
                "SELECT * FROM current_day UNION ALL BY NAME SELECT * FROM exported_day "
                "WHERE trace_id NOT IN (SELECT trace_id FROM current_day) "
                "AND trace_id NOT IN (SELECT trace_id FROM moved)",
                [],
                staging,
                "traces",
                day,
            )
    result.rows["traces"] += changed
    if written:
        result.files_added.append(_publish(written[0], root, "traces", day))
    if stale:
        for old in existing:  # after the new file is in place: never a moment without the day
            old.unlink(missing_ok=True)
            result.files_removed.append(str(old.relative_to(root)))
        _remove_empty_partition(root / "traces" / f"date={day}")


def _count(conn: duckdb.DuckDBPyConnection, query: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM ({query})").fetchone()
    return int(row[0]) if row else 0


# --- writing files ---------------------------------------------------------------------------


def _copy_day(
    conn: duckdb.DuckDBPyConnection,
    query: str,
    parameters: list[str],
    staging: Path,
    table: str,
    day: str,
) -> tuple[Path, int] | None:
    """COPY the query's rows into one staged Parquet file; None when there were none."""
    target = staging / table / f"date={day}" / f"part-{uuid.uuid4()}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    copied = conn.execute(
        f"COPY ({query}) TO {_quote(str(target))} "
        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)",
        parameters,
    ).fetchone()
    rows = int(copied[0]) if copied else 0
    if rows == 0:
        target.unlink(missing_ok=True)
        return None
    return target, rows


def _publish(staged: Path, root: Path, table: str, day: str) -> str:
    final = root / table / f"date={day}" / staged.name
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, final)  # atomic on one file system: readers see all of it or nothing
    return str(final.relative_to(root))


def _remove_empty_partition(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()  # only succeeds when empty


# --- manifest and progress --------------------------------------------------------------------


def _write_manifest(root: Path, store: str, result: ExportResult) -> None:
    """Record the run (runs that wrote nothing only update ``last_run_at``)."""
    path = root / MANIFEST
    manifest: dict[str, object] = {}
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            manifest = json.loads(path.read_text())
    runs = manifest.get("runs")
    runs = list(runs) if isinstance(runs, list) else []
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    if not result.nothing_new:
        runs.append(
            {
                "at": now,
                "store": os.path.abspath(store),
                "rows": result.rows,
                "files_added": result.files_added,
                "files_removed": result.files_removed,
            }
        )
    manifest.update(
        format=MANIFEST_FORMAT,
        layout="TABLE/date=YYYY-MM-DD/part-UUID.parquet (Hive partitions, UTC days)",
        tables=list(TABLES),
        last_run_at=now,
        runs=runs[-_MAX_MANIFEST_RUNS:],
    )
    temporary = root / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2))
    os.replace(temporary, path)


@contextlib.contextmanager
def _progress_bar(plan: list[_Chunk], show: bool | None) -> Iterator[ProgressHook]:
    total = sum(chunk.rows for chunk in plan)
    if show is None:
        import sys

        show = total >= PROGRESS_MIN_ROWS and sys.stderr.isatty()
    if not show:
        yield lambda _description, _rows: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("exporting", total=total)

        def advance(description: str, rows: int) -> None:
            bar.update(task, advance=rows, description=description)

        yield advance
