"""A Parquet export (a folder, or ``s3://bucket/prefix``) read as a read-only store.

``open_lake(uri)`` returns an in-memory DuckDB connection with the views a store file has,
``traces``, ``spans`` and ``span_events``, with the same columns and types (JSON columns are JSON
again), over the dataset ``tracepond export --format parquet`` writes. ``read_connection`` in
:mod:`tracepond.store.connection` routes ``s3://`` URIs and folders here, so ``sql()``,
``search_traces``, ``get_trace`` and the viewer work over an export.

How files are read: through pyarrow datasets (local or S3 file systems) that DuckDB scans in
place. DuckDB's own S3 support lives in its ``httpfs`` extension, which DuckDB downloads from its
extension server on first use; no pip package ships it for DuckDB 2.0 (``duckdb-extension-httpfs``
stops at 1.5.5, and DuckDB refuses an extension built for another version). pyarrow's
``S3FileSystem`` is part of the pyarrow wheel, needs no download and works offline against any
S3-compatible endpoint.

Read-only: once the views exist, the connection turns off file system access and locks its
configuration, so SQL run on it can neither write files nor read others; the dataset is never
changed.

S3 settings come from the standard AWS variables: ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` (or the usual credential chain),
``AWS_REGION`` / ``AWS_DEFAULT_REGION``, and ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` for an
S3-compatible server (MinIO, moto, ...).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

import duckdb

from tracepond.errors import StoreError
from tracepond.store.rows import EVENT_COLUMNS, SPAN_COLUMNS
from tracepond.store.traces_fold import TRACE_COLUMNS

TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "traces": TRACE_COLUMNS,
    "spans": SPAN_COLUMNS,
    "span_events": EVENT_COLUMNS,
}


def is_lake_uri(store: str) -> bool:
    """True for what this module reads: ``s3://`` URIs and existing folders."""
    return store.startswith("s3://") or os.path.isdir(store)


def open_lake(uri: str) -> duckdb.DuckDBPyConnection:
    """A read-only connection with ``traces``, ``spans``, ``span_events`` views over ``uri``.

    Raises StoreError when ``uri`` holds no tracepond export or cannot be reached.
    """
    try:
        import pyarrow.dataset  # noqa: F401 - fail early with an install hint
    except ImportError as error:
        raise StoreError(
            f"reading {uri} needs pyarrow: pip install pyarrow (or tracepond[all])"
        ) from error
    filesystem, base = _filesystem(uri)
    present = _tables_present(filesystem, base, uri)
    conn = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        conn.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ -> TIMESTAMP keeps UTC wall time
        for table, columns in TABLE_COLUMNS.items():
            source = f"_lake_{table}"
            if table in present:
                conn.register(source, _dataset(filesystem, f"{base}/{table}", columns))
            else:  # an export of a store that never had, say, events
                conn.register(source, _empty_table(columns))
            conn.execute(f"CREATE VIEW {table} AS SELECT {_view_columns(columns)} FROM {source}")
        _bookkeeping_views(conn)
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
    except BaseException:
        conn.close()
        raise
    return conn


def _bookkeeping_views(conn: duckdb.DuckDBPyConnection) -> None:
    """``schema_version`` and ``writer_stats`` as a store has them, so `tracepond doctor` reads a
    lake too: the views above follow the current schema, and a lake drops nothing."""
    from tracepond.store.migrations import CURRENT_VERSION

    conn.execute(
        "CREATE VIEW schema_version AS SELECT "
        f"{int(CURRENT_VERSION)}::INTEGER AS version, "
        "'read-only Parquet lake' AS description, NULL::TIMESTAMP AS applied_at"
    )
    conn.execute(
        "CREATE VIEW writer_stats AS SELECT NULL::TIMESTAMP AS recorded_at, "
        "NULL::VARCHAR AS source, NULL::INTEGER AS pid, NULL::BIGINT AS dropped_spans LIMIT 0"
    )
    _empty_prompt_tables(conn)


def _empty_prompt_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """The prompt tables, empty (an export holds no prompts), so what reads a trace's prompts
    (the viewer's trace detail, ``prompt.*`` filters) answers nothing instead of failing. Made
    from the store's own DDL in a scratch schema, shown through views that cannot be written."""
    from tracepond.store import schema_prompts

    conn.execute("CREATE SCHEMA _empty")
    conn.execute("SET search_path = '_empty'")
    try:
        for statement in schema_prompts.STATEMENTS:
            conn.execute(statement)
    finally:
        conn.execute("SET search_path = 'main'")
    tables = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = '_empty'"
    ).fetchall()
    for (table,) in tables:
        conn.execute(f'CREATE VIEW main."{table}" AS SELECT * FROM _empty."{table}"')


def _filesystem(uri: str) -> tuple[Any, str]:
    """A pyarrow file system and the dataset's base path in it."""
    import pyarrow.fs as pafs

    if uri.startswith("s3://"):
        parsed = urlparse(uri)
        if not parsed.netloc:
            raise StoreError(f"{uri} names no bucket; expected s3://bucket/prefix")
        base = f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/")
        return _s3_filesystem(), base
    if not os.path.isdir(uri):
        raise StoreError(f"{uri} is not a folder holding a Parquet export")
    return pafs.LocalFileSystem(), os.path.abspath(uri)


def _s3_filesystem() -> Any:
    import pyarrow.fs as pafs

    options: dict[str, Any] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parsed = urlparse(endpoint)
        if parsed.scheme and parsed.netloc:
            options["endpoint_override"] = parsed.netloc
            options["scheme"] = parsed.scheme
        else:
            options["endpoint_override"] = endpoint
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return pafs.S3FileSystem(**options)


def _tables_present(filesystem: Any, base: str, uri: str) -> set[str]:
    import pyarrow.fs as pafs

    try:
        infos = filesystem.get_file_info(pafs.FileSelector(base, allow_not_found=True))
    except OSError as error:  # unreachable endpoint, missing bucket, refused credentials
        raise StoreError(f"cannot read {uri}: {error}") from error
    present = {
        os.path.basename(info.path)
        for info in infos
        if info.type == pafs.FileType.Directory and os.path.basename(info.path) in TABLE_COLUMNS
    }
    if not present:
        raise StoreError(
            f"{uri} holds no tracepond Parquet export (no traces/, spans/ or span_events/ "
            "folder); write one with: tracepond export --format parquet --out DIR"
        )
    return present


def _arrow_schema(columns: tuple[tuple[str, str], ...]) -> Any:
    import pyarrow as pa

    types = {
        "VARCHAR": pa.string(),
        "JSON": pa.string(),  # written as plain strings; the view makes them JSON again
        "TIMESTAMP": pa.timestamp("us", tz="UTC"),  # as exported; the view drops the zone
        "DOUBLE": pa.float64(),
        "BIGINT": pa.int64(),
        "BOOLEAN": pa.bool_(),
    }
    return pa.schema([(name, types.get(kind, pa.string())) for name, kind in columns])


def _dataset(filesystem: Any, path: str, columns: tuple[tuple[str, str], ...]) -> Any:
    """The table's files as one dataset; the store's schema is imposed, so a file written by an
    older tracepond (fewer columns) reads with NULLs, and extra columns are ignored."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    partitioning = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
    schema = _arrow_schema(columns).append(pa.field("date", pa.string()))
    try:
        return ds.dataset(
            path, schema=schema, format="parquet", filesystem=filesystem, partitioning=partitioning
        )
    except (OSError, pa.ArrowInvalid) as error:
        raise StoreError(f"cannot read the Parquet files under {path}: {error}") from error


def _empty_table(columns: tuple[tuple[str, str], ...]) -> Any:
    return _arrow_schema(columns).empty_table()


def _view_columns(columns: tuple[tuple[str, str], ...]) -> str:
    """The store's column types: JSON again, and UTC times without a zone (TimeZone is UTC)."""
    casts = {"JSON": "JSON", "TIMESTAMP": "TIMESTAMP"}
    return ", ".join(
        f'"{name}"::{casts[kind]} AS "{name}"' if kind in casts else f'"{name}"'
        for name, kind in columns
    )
