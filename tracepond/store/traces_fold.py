"""Keeping a ``traces`` row consistent with its spans, batch after batch, in SQL.

A trace's spans reach the store in several batches (children end before their parent, long
traces outlive a flush interval) and from several processes. The writer loads a batch's NEW spans
(duplicates already removed) as ``tp_new`` (with ``tp_is_root`` and arrival order ``tp_seq``),
the roots that started as ``tp_starts``, and the batch's merged tags/metadata per trace as
``tp_objects``; :data:`FOLD_STATEMENTS` then fold them into ``traces``:

- span_count, input/output tokens, cost_usd, error_count: added;
- start_time = earliest span start, end_time = latest span end;
- name, status, inputs, outputs, duration_ms, root_span_id: the root span's once it has arrived
  (the first root wins). Before that the trace is ``in_progress`` if its root was seen starting
  (name from that start), else it takes the earliest span's name, duration end - start, and status
  ERROR when a span failed (a trace whose root lives in another service), else UNSET;
- tags and metadata: JSON objects merged key by key (RFC 7396 merge patch), later batches winning;
- run, experiment, model, session, user and service: the root span's when the batch has it
  (``update_current_trace`` writes the root too), else a value from the batch's spans, else the
  stored one.

Each statement runs over the batch's traces only; the one scan of ``traces`` finds their rows.
"""

from __future__ import annotations

from typing import Any

TRACE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("start_time", "TIMESTAMP"),
    ("end_time", "TIMESTAMP"),
    ("duration_ms", "DOUBLE"),
    ("status", "VARCHAR"),
    ("experiment_id", "VARCHAR"),
    ("run_id", "VARCHAR"),
    ("model_id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("tags", "JSON"),
    ("metadata", "JSON"),
    ("span_count", "BIGINT"),
    ("input_tokens", "BIGINT"),
    ("output_tokens", "BIGINT"),
    ("inputs", "JSON"),
    ("outputs", "JSON"),
    ("root_span_id", "VARCHAR"),
    ("in_progress", "BOOLEAN"),
    ("error_count", "BIGINT"),
    ("service_name", "VARCHAR"),
    ("cost_usd", "DOUBLE"),
)

START_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("start_time", "TIMESTAMP"),
    ("run_id", "VARCHAR"),
    ("experiment_id", "VARCHAR"),
    ("model_id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("service_name", "VARCHAR"),
)
START_FIELDS = ("run_id", "experiment_id", "model_id", "session_id", "user_id", "service_name")

OBJECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "VARCHAR"),
    ("tags", "JSON"),
    ("metadata", "JSON"),
)

_FIELDS = ("run_id", "experiment_id", "model_id", "session_id", "user_id", "service_name")
_ROOT_COLUMNS = ("span_id", "name", "status", "duration_ms", "inputs", "outputs")

# What this batch adds, per trace (parts of new spans, a started root, tags/metadata). Trace-level
# ids come from the root span when it is in the batch (update_current_trace writes the root too),
# else from any span that has one.
_PARTS = f"""
CREATE OR REPLACE TEMP TABLE tp_parts AS
WITH spans_part AS (
    SELECT trace_id,
        count(*) AS span_count,
        sum(input_tokens) AS input_tokens,
        sum(output_tokens) AS output_tokens,
        sum(cost_usd) AS cost_usd,
        count(*) FILTER (WHERE status = 'ERROR') AS error_count,
        min(start_time) AS start_time,
        max(end_time) AS end_time,
        arg_min(name, start_time) AS first_name,
        {", ".join(f"max({f}) AS {f}" for f in _FIELDS)}
    FROM tp_new GROUP BY trace_id
), roots AS (
    SELECT trace_id, {", ".join(f"{c} AS root_{c}" for c in _ROOT_COLUMNS)},
        {", ".join(f"{f} AS root_{f}" for f in _FIELDS)}
    FROM tp_new WHERE tp_is_root
    QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY tp_seq) = 1
), starts AS (
    SELECT * FROM tp_starts QUALIFY row_number() OVER (PARTITION BY trace_id) = 1
), ids AS (
    SELECT trace_id FROM spans_part UNION SELECT trace_id FROM starts
    UNION SELECT trace_id FROM tp_objects
)
SELECT ids.trace_id,
    coalesce(p.span_count, 0) AS span_count,
    p.input_tokens, p.output_tokens, p.cost_usd,
    coalesce(p.error_count, 0) AS error_count,
    least(p.start_time, s.start_time) AS start_time,
    p.end_time,
    CASE WHEN s.start_time IS NOT NULL AND (p.start_time IS NULL OR s.start_time <= p.start_time)
         THEN s.name ELSE p.first_name END AS first_name,
    {", ".join(f"r.root_{c}" for c in _ROOT_COLUMNS)},
    s.span_id AS started_span_id, s.name AS started_name,
    {", ".join(f"coalesce(r.root_{f}, p.{f}, s.{f}) AS {f}" for f in _FIELDS)},
    o.tags, o.metadata
FROM ids
LEFT JOIN spans_part p ON p.trace_id = ids.trace_id
LEFT JOIN roots r ON r.trace_id = ids.trace_id
LEFT JOIN starts s ON s.trace_id = ids.trace_id
LEFT JOIN tp_objects o ON o.trace_id = ids.trace_id
"""


def _sum(column: str) -> str:
    """old + new where NULL means "none recorded" (not zero) unless either side has a value."""
    return (
        f"CASE WHEN o_{column} IS NULL THEN {column} WHEN {column} IS NULL THEN o_{column} "
        f"ELSE o_{column} + {column} END"
    )


# The stored rows of these traces merged with the parts (o = old row, p = part).
_MERGED = f"""
CREATE OR REPLACE TEMP TABLE tp_merged AS
WITH joined AS (
    SELECT p.*,
        o.rowid AS old_rowid,
        o.name AS o_name, o.start_time AS o_start, o.end_time AS o_end,
        o.duration_ms AS o_duration, o.status AS o_status,
        o.tags AS o_tags, o.metadata AS o_metadata,
        o.span_count AS o_span_count, o.input_tokens AS o_input_tokens,
        o.output_tokens AS o_output_tokens, o.cost_usd AS o_cost_usd,
        o.error_count AS o_error_count, o.inputs AS o_inputs, o.outputs AS o_outputs,
        o.root_span_id AS o_root, o.in_progress AS o_in_progress,
        {", ".join(f"o.{f} AS o_{f}" for f in _FIELDS)},
        (o.root_span_id IS NOT NULL AND NOT coalesce(o.in_progress, false)) AS root_done,
        p.root_span_id IS NOT NULL AS root_new
    FROM tp_parts p LEFT JOIN traces o ON o.trace_id = p.trace_id
), merged AS (
    SELECT *,
        least(o_start, start_time) AS new_start,
        greatest(o_end, end_time) AS new_end,
        coalesce(o_error_count, 0) + error_count AS new_errors,
        CASE WHEN root_done OR root_new THEN false
             ELSE coalesce(o_root, started_span_id) IS NOT NULL END AS new_in_progress
    FROM joined
)
SELECT trace_id,
    CASE WHEN root_done THEN o_name
         WHEN root_new THEN root_name
         WHEN o_root IS NOT NULL THEN o_name
         WHEN started_span_id IS NOT NULL THEN started_name
         WHEN o_start IS NULL OR start_time < o_start THEN first_name
         ELSE o_name END AS name,
    new_start AS start_time,
    new_end AS end_time,
    CASE WHEN root_done THEN o_duration
         WHEN root_new THEN root_duration_ms
         ELSE date_diff('microsecond', new_start, new_end) / 1000.0 END AS duration_ms,
    CASE WHEN root_done THEN o_status
         WHEN root_new THEN root_status
         WHEN new_in_progress THEN 'UNSET'
         WHEN new_errors > 0 THEN 'ERROR'
         ELSE 'UNSET' END AS status,
    {", ".join(f"coalesce({f}, o_{f}) AS {f}" for f in _FIELDS)},
    CASE WHEN tags IS NULL THEN o_tags WHEN o_tags IS NULL THEN tags
         ELSE json_merge_patch(o_tags, tags) END AS tags,
    CASE WHEN metadata IS NULL THEN o_metadata WHEN o_metadata IS NULL THEN metadata
         ELSE json_merge_patch(o_metadata, metadata) END AS metadata,
    coalesce(o_span_count, 0) + span_count AS span_count,
    {_sum("input_tokens")} AS input_tokens,
    {_sum("output_tokens")} AS output_tokens,
    CASE WHEN root_done THEN o_inputs WHEN root_new THEN root_inputs ELSE o_inputs END AS inputs,
    CASE WHEN root_done THEN o_outputs WHEN root_new THEN root_outputs ELSE o_outputs END
        AS outputs,
    CASE WHEN root_done THEN o_root WHEN root_new THEN root_span_id
         ELSE coalesce(o_root, started_span_id) END AS root_span_id,
    new_in_progress AS in_progress,
    new_errors AS error_count,
    {_sum("cost_usd")} AS cost_usd,
    old_rowid
FROM merged
"""

FOLD_STATEMENTS: tuple[str, ...] = (
    _PARTS,
    _MERGED,
    "DELETE FROM traces WHERE rowid IN (SELECT old_rowid FROM tp_merged WHERE old_rowid IS NOT NULL)",
    "INSERT INTO traces BY NAME SELECT * EXCLUDE (old_rowid) FROM tp_merged",
    "DROP TABLE tp_parts",
    "DROP TABLE tp_merged",
)


def merge_objects(
    merged: dict[str, dict[str, Any]], trace_id: str, new: dict[str, Any] | None
) -> None:
    """Fold one span's tags (or metadata) into the batch's per-trace object, later wins."""
    if new:
        merged[trace_id] = {**merged.get(trace_id, {}), **new}
