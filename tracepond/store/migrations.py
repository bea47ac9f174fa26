"""The store's schema history: an ordered, append-only list of migrations.

A store records the migrations applied to it in ``schema_version`` (one row per version). Opening
a store read-write applies, in one transaction, every migration whose version is above the
store's; a store whose version is above :data:`CURRENT_VERSION` was written by a newer tracepond
and is refused with :class:`~tracepond.errors.SchemaVersionError` before anything is changed.

How to add a migration (the only change ever made to this list):

1. Append ``Migration(version=<last + 1>, description="...", statements=(...))`` at the end of
   :data:`MIGRATIONS`. The statements may live in your own module and be imported here.
2. Never edit or reorder a landed migration: stores in the wild have already applied it. Fix a
   mistake with a new migration.
3. Statements run inside the migration's transaction, in order; use plain DDL/DML (DuckDB's DDL is
   transactional), no ``BEGIN``/``COMMIT`` of your own.
4. Add a test that opens a store at the previous version and checks your tables after migrating.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from tracepond.errors import SchemaVersionError
from tracepond.store import schema_prompts, schema_quality
from tracepond.store import schema_tracking as runs_schema


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_V1_SPANS = """
CREATE TABLE spans (
    trace_id VARCHAR NOT NULL,          -- 32 lowercase hex
    span_id VARCHAR NOT NULL,           -- 16 lowercase hex
    parent_span_id VARCHAR,
    name VARCHAR,
    kind VARCHAR,                       -- OTel SpanKind: INTERNAL, CLIENT, SERVER, ...
    span_type VARCHAR,                  -- LLM, CHAT_MODEL, EMBEDDING, TOOL, ...
    start_time TIMESTAMP,               -- UTC, microseconds
    end_time TIMESTAMP,
    duration_ms DOUBLE,
    status VARCHAR,                     -- OK | ERROR | UNSET
    status_message VARCHAR,
    provider VARCHAR,
    model VARCHAR,
    input_tokens BIGINT,
    output_tokens BIGINT,
    inputs JSON,
    outputs JSON,
    attributes JSON,
    run_id VARCHAR,
    experiment_id VARCHAR,
    model_id VARCHAR,
    session_id VARCHAR,
    user_id VARCHAR,
    service_name VARCHAR
)"""

_V1_TRACES = """
CREATE TABLE traces (
    trace_id VARCHAR NOT NULL,
    name VARCHAR,                       -- the root span's
    start_time TIMESTAMP,               -- earliest span start
    end_time TIMESTAMP,                 -- latest span end
    duration_ms DOUBLE,                 -- the root span's (else end - start)
    status VARCHAR,                     -- the root span's: OK | ERROR | UNSET
    experiment_id VARCHAR,
    run_id VARCHAR,
    model_id VARCHAR,
    session_id VARCHAR,
    user_id VARCHAR,
    tags JSON,
    metadata JSON,
    span_count BIGINT,
    input_tokens BIGINT,
    output_tokens BIGINT,
    inputs JSON,                        -- the root span's
    outputs JSON,
    root_span_id VARCHAR,
    in_progress BOOLEAN,                -- the root span started and has not ended yet
    error_count BIGINT,
    service_name VARCHAR
)"""

_V1_SPAN_EVENTS = """
CREATE TABLE span_events (
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    name VARCHAR,
    time TIMESTAMP,
    attributes JSON
)"""

# One row per writer batch that saw spans dropped (queue full) or failed to write them.
_V1_WRITER_STATS = """
CREATE TABLE writer_stats (
    recorded_at TIMESTAMP NOT NULL,
    source VARCHAR NOT NULL,            -- 'duckdb' (this store's writer), 'otlp', ...
    pid INTEGER,
    dropped_spans BIGINT NOT NULL
)"""

MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "spans, traces, span_events and writer statistics",
        (_V1_SPANS, _V1_TRACES, _V1_SPAN_EVENTS, _V1_WRITER_STATS),
    ),
    Migration(
        2,
        "cost_usd on spans and traces (sum of tracepond.cost.usd per trace)",
        (
            "ALTER TABLE spans ADD COLUMN cost_usd DOUBLE",
            "ALTER TABLE traces ADD COLUMN cost_usd DOUBLE",
        ),
    ),
    Migration(runs_schema.VERSION, runs_schema.DESCRIPTION, runs_schema.STATEMENTS),
    Migration(
        4,
        "index on traces.trace_id: get_trace finds a trace without scanning every row",
        ("CREATE INDEX IF NOT EXISTS traces_trace_id ON traces (trace_id)",),
    ),
    Migration(schema_prompts.VERSION, schema_prompts.DESCRIPTION, schema_prompts.STATEMENTS),
    Migration(6, schema_quality.DESCRIPTION, schema_quality.STATEMENTS),
    Migration(
        7,
        "spans.model is the requested model; spans.response_model the one the provider answered",
        (
            "ALTER TABLE spans ADD COLUMN response_model VARCHAR",
            # Until now `model` held the answered model when there was one: move it over, and
            # put back the requested one from the span's own attributes.
            """UPDATE spans SET
                response_model = json_extract_string(attributes, '$."gen_ai.response.model"'),
                model = coalesce(json_extract_string(attributes, '$."gen_ai.request.model"'), model)
            WHERE model IS NOT NULL""",
        ),
    ),
]

CURRENT_VERSION = MIGRATIONS[-1].version

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL,
    description VARCHAR,
    applied_at TIMESTAMP NOT NULL
)"""


def _check_order() -> None:
    versions = [m.version for m in MIGRATIONS]
    if versions != list(range(1, len(versions) + 1)):
        raise AssertionError(f"MIGRATIONS must be numbered 1, 2, 3, ... in order; got {versions}")


_check_order()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def stored_version(conn: duckdb.DuckDBPyConnection) -> int | None:
    """The store's schema version; None when the file has no ``schema_version`` table.

    Asked on every open, so it is one cheap query (the catalog views cost several times more).
    Not for use inside a transaction: the missing-table error would abort it.
    """
    try:
        row = conn.execute("SELECT max(version) FROM main.schema_version").fetchall()[0]
    except duckdb.CatalogException:
        return None
    return int(row[0]) if row and row[0] is not None else 0


def refuse_newer(version: int | None, path: str) -> None:
    """Raise SchemaVersionError when the store was written by a newer tracepond."""
    if version is not None and version > CURRENT_VERSION:
        raise SchemaVersionError(
            f"{path} has schema version {version}, but this tracepond knows only up to version "
            f"{CURRENT_VERSION}; upgrade tracepond to read it (the store was left untouched)"
        )


def migrate(conn: duckdb.DuckDBPyConnection, path: str, target: int = CURRENT_VERSION) -> int:
    """Apply the missing migrations up to ``target`` in one transaction; return the version.

    Callers have checked that the file is a tracepond store (or an empty DuckDB file).
    """
    version = stored_version(conn)  # callers hold the store alone: no one migrates meanwhile
    refuse_newer(version, path)
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(_VERSION_TABLE)
        current = version or 0
        for migration in MIGRATIONS:
            if current < migration.version <= target:
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    [migration.version, migration.description, _utcnow()],
                )
                current = migration.version
        conn.execute("COMMIT")
        return current
    except BaseException:
        conn.execute("ROLLBACK")
        raise
