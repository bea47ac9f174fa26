"""The schema of runs, logged models and the registry: migration version 3.

Table names are DESIGN.md's SQL contract (`experiments`, `runs`, `params`, `metrics`, `run_tags`,
`models`, `model_versions`); the registry adds `registered_models`, `model_aliases` and
`model_version_tags`. Two views serve readers: `latest_metrics` (a run's latest value per key,
by step then time) and `model_stats` / `model_version_stats` (trace count, latency percentiles,
error rate, tokens and cost per logged model and per registered version).

Times are UTC ``TIMESTAMP`` values, like the traces tables. Params and tags are text, as in
MLflow; metric values are ``DOUBLE`` (NaN and infinities are kept: a loss that went NaN is worth
recording).
"""

from __future__ import annotations

VERSION = 3
DESCRIPTION = "runs, logged models and the model registry"

TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS experiments (
        experiment_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE,
        artifact_location VARCHAR NOT NULL,
        description VARCHAR,
        tags VARCHAR NOT NULL DEFAULT '{}',
        creation_time TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR PRIMARY KEY,
        experiment_id VARCHAR NOT NULL,
        name VARCHAR,
        status VARCHAR NOT NULL,
        start_time TIMESTAMP NOT NULL,
        end_time TIMESTAMP,
        parent_run_id VARCHAR,
        artifact_uri VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS params (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        PRIMARY KEY (run_id, key)
    )""",
    """CREATE TABLE IF NOT EXISTS metrics (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value DOUBLE NOT NULL,
        step BIGINT NOT NULL,
        timestamp TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS run_tags (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        PRIMARY KEY (run_id, key)
    )""",
    """CREATE TABLE IF NOT EXISTS models (
        model_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        experiment_id VARCHAR,
        run_id VARCHAR,
        params VARCHAR NOT NULL DEFAULT '{}',
        creation_time TIMESTAMP NOT NULL,
        artifact_location VARCHAR,
        source_kind VARCHAR,
        signature VARCHAR,
        requirements VARCHAR,
        code_version VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS registered_models (
        name VARCHAR PRIMARY KEY,
        description VARCHAR,
        creation_time TIMESTAMP NOT NULL,
        last_updated_time TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS model_versions (
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        model_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        run_id VARCHAR,
        description VARCHAR,
        creation_time TIMESTAMP NOT NULL,
        PRIMARY KEY (name, version)
    )""",
    """CREATE TABLE IF NOT EXISTS model_aliases (
        name VARCHAR NOT NULL,
        alias VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, alias)
    )""",
    """CREATE TABLE IF NOT EXISTS model_version_tags (
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        PRIMARY KEY (name, version, key)
    )""",
)

VIEWS: tuple[str, ...] = (
    # The latest value of each metric of each run: highest step, then latest time.
    """CREATE OR REPLACE VIEW latest_metrics AS
        SELECT run_id, key, value, step, timestamp FROM (
            SELECT *, row_number() OVER (
                PARTITION BY run_id, key ORDER BY step DESC, timestamp DESC
            ) AS rn
            FROM metrics
        ) WHERE rn = 1""",
    # Per logged model: how its traces went. A model with no traces has a row of zeros.
    """CREATE OR REPLACE VIEW model_stats AS
        SELECT
            m.model_id,
            m.name AS model_name,
            count(t.trace_id) AS trace_count,
            quantile_cont(t.duration_ms, 0.5) AS p50_latency_ms,
            quantile_cont(t.duration_ms, 0.95) AS p95_latency_ms,
            coalesce(avg(CASE WHEN t.status = 'ERROR' THEN 1.0 ELSE 0.0 END), 0.0) AS error_rate,
            coalesce(sum(t.input_tokens), 0) AS input_tokens,
            coalesce(sum(t.output_tokens), 0) AS output_tokens,
            coalesce(sum(t.cost_usd), 0.0) AS cost_usd
        FROM models m LEFT JOIN traces t ON t.model_id = m.model_id
        GROUP BY m.model_id, m.name""",
    # Per registered version: the stats of the logged model the version points at.
    """CREATE OR REPLACE VIEW model_version_stats AS
        SELECT v.name, v.version, s.* EXCLUDE (model_name)
        FROM model_versions v JOIN model_stats s ON s.model_id = v.model_id""",
)

STATEMENTS: tuple[str, ...] = TABLES + VIEWS
