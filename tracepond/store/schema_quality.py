"""The schema of assessments and evaluation datasets (one migration, appended in migrations.py).

``assessments`` is DESIGN.md's SQL contract ("Quality"): one row per feedback or expectation on a
trace (or one span of it). ``value`` is the logged Python value as JSON text. Overriding a
feedback writes a new row whose ``overrides`` names the old one and marks the old ``valid =
false``: history is kept, as MLflow keeps it. ``metadata`` holds what a judge counted about its
own call (tokens, cost, model) and anything the caller passed.

Datasets are versioned: each ``merge_records`` makes a version (``dataset_versions``). A record
row lives from the version that added it (``added_in``) until the version that replaced it
(``removed_in``, NULL while current), so every version can be read back as it was.
"""

from __future__ import annotations

DESCRIPTION = "assessments (feedback, expectations) and versioned evaluation datasets"

ASSESSMENTS = """
CREATE TABLE IF NOT EXISTS assessments (
    assessment_id VARCHAR PRIMARY KEY,
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR,                    -- NULL: about the whole trace
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,              -- 'feedback' | 'expectation'
    value JSON,                         -- the logged Python value
    source_type VARCHAR NOT NULL,       -- 'HUMAN' | 'LLM_JUDGE' | 'CODE'
    source_id VARCHAR,
    rationale VARCHAR,
    error VARCHAR,                      -- "ExceptionType: message" when scoring failed
    metadata JSON,
    run_id VARCHAR,                     -- the evaluation run that produced it
    create_time TIMESTAMP NOT NULL,
    last_update_time TIMESTAMP NOT NULL,
    valid BOOLEAN NOT NULL,             -- false once overridden
    overrides VARCHAR                   -- the assessment_id this one replaced
)"""

DATASETS = """
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL UNIQUE,
    description VARCHAR,
    tags JSON,
    create_time TIMESTAMP NOT NULL,
    last_update_time TIMESTAMP NOT NULL
)"""

DATASET_VERSIONS = """
CREATE TABLE IF NOT EXISTS dataset_versions (
    dataset_id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    create_time TIMESTAMP NOT NULL,
    record_count BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, version)
)"""

DATASET_RECORDS = """
CREATE TABLE IF NOT EXISTS dataset_records (
    dataset_id VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,         -- a digest of the inputs: one record per distinct inputs
    added_in INTEGER NOT NULL,
    removed_in INTEGER,                 -- NULL while the record is current
    inputs JSON NOT NULL,
    expectations JSON,
    outputs JSON,
    source_trace_id VARCHAR,
    tags JSON
)"""

STATEMENTS: tuple[str, ...] = (
    ASSESSMENTS,
    "CREATE INDEX IF NOT EXISTS assessments_trace_id ON assessments (trace_id)",
    DATASETS,
    DATASET_VERSIONS,
    DATASET_RECORDS,
)
