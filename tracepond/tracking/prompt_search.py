"""Searching prompts: ``search_prompts`` and the per-name summary the CLI lists.

``search_prompts`` takes the filter language of search_runs (``tracepond.tracking.search_filter``)
over prompt versions::

    search_prompts(filter="name LIKE 'support%'")
    search_prompts(filter="tags.team = 'billing' AND version >= 2 AND template ILIKE '%refund%'")

Fields: ``name``, ``version``, ``template`` (the text, or a chat template's JSON),
``template_type`` ('text' | 'chat'), ``commit_message``, ``create_time``, ``tags.KEY``. The
answer is every matching version, by name, newest version first; ``latest_only=True`` keeps the
newest matching version of each name.
"""

from __future__ import annotations

from typing import Any

import duckdb

from tracepond.errors import NotFoundError, QueryError
from tracepond.tracking import db as runs_db
from tracepond.tracking.prompt_types import PromptVersion
from tracepond.tracking.prompts import check_name, version_from_row
from tracepond.tracking.search_filter import Field, compile_filter, compile_order_by

_FIELDS = {
    "name": Field("v.name", "text"),
    "version": Field("v.version", "number"),
    "template": Field("v.template", "text"),
    "template_type": Field("v.template_type", "text"),
    "commit_message": Field("v.commit_message", "text"),
    "create_time": Field("v.create_time", "time"),
}


def _resolve(prefix: str | None, key: str) -> Field | None:
    if prefix == "tags":
        return Field(
            "json_extract_string(v.tags, ?)", "text", ('$."' + key.replace('"', '\\"') + '"',)
        )
    return _FIELDS.get(key) if prefix is None else None


def search_prompts(
    filter: str | None = None,
    order_by: list[str] | None = None,
    *,
    max_results: int = 1000,
    latest_only: bool = False,
    store: str | None = None,
) -> list[PromptVersion]:
    """Prompt versions matching ``filter``, by name then newest version first by default."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise QueryError(f"max_results must be a positive integer, got {max_results!r}")
    where, params = compile_filter(filter, _resolve)
    order, order_params = compile_order_by(order_by, _resolve, "v.name, v.version DESC")
    newest = (  # the newest matching version of each name
        " QUALIFY row_number() OVER (PARTITION BY v.name ORDER BY v.version DESC) = 1"
        if latest_only
        else ""
    )
    query = f"SELECT v.* FROM prompt_versions v WHERE {where}{newest} ORDER BY {order} LIMIT ?"
    values = [*params, *order_params, max_results]
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> list[PromptVersion]:
        return [version_from_row(row) for row in runs_db.fetch_dicts(conn, query, values)]

    return runs_db.read(path, work)


def prompt_summaries(*, store: str | None = None) -> list[dict[str, Any]]:
    """One row per prompt: latest version, how many versions, aliases, traces that loaded it."""
    query = """
        SELECT p.name, max(v.version) AS latest_version, count(*) AS versions,
               flatten(list(v.aliases ORDER BY v.version)) AS aliases, p.last_updated_time,
               (SELECT count(DISTINCT tp.trace_id) FROM trace_prompts tp WHERE tp.name = p.name)
                   AS traces
        FROM prompts p JOIN prompt_versions v ON v.name = p.name
        GROUP BY p.name, p.last_updated_time ORDER BY p.name
    """
    path = runs_db.resolve_store(store)
    return runs_db.read(path, lambda conn: runs_db.fetch_dicts(conn, query))


_FEEDBACK_VALUE = (  # a feedback value as a number: true 1, false 0, numbers as they are
    "CASE WHEN a.value::VARCHAR = 'true' THEN 1.0 WHEN a.value::VARCHAR = 'false' THEN 0.0 "
    "ELSE TRY_CAST(a.value::VARCHAR AS DOUBLE) END"
)


def _if_assessments(conn: duckdb.DuckDBPyConnection, absent: str, present: str) -> str:
    """``present`` (SQL reading feedback) when the store has an assessments table (the quality
    features write it), else ``absent`` (NULL columns of the same names)."""
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'assessments'"
    ).fetchone()
    return present if row and row[0] else absent


def version_stats(name: str, *, store: str | None = None) -> list[dict[str, Any]]:
    """Per version of prompt ``name``, how the traces that loaded it went: trace count, p50/p95
    latency, error rate, tokens, cost, and (when the store has assessments) feedback: how many
    and their mean where the values are booleans or numbers."""
    check_name(name)
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        feedback = _if_assessments(
            conn,
            "NULL::BIGINT AS feedback_count, NULL::DOUBLE AS feedback_mean",
            (
                "(SELECT count(*) FROM assessments a WHERE a.trace_id IN (SELECT trace_id FROM "
                "used u WHERE u.version = v.version) AND a.kind = 'feedback' AND a.valid) "
                "AS feedback_count, "
                f"(SELECT avg({_FEEDBACK_VALUE}) FROM assessments a WHERE a.trace_id IN "
                "(SELECT trace_id FROM used u WHERE u.version = v.version) "
                "AND a.kind = 'feedback' AND a.valid) AS feedback_mean"
            ),
        )
        query = f"""
            WITH used AS (SELECT DISTINCT trace_id, version FROM trace_prompts WHERE name = ?)
            SELECT v.version, v.commit_message, v.aliases, v.create_time,
                   count(t.trace_id) AS traces,
                   quantile_cont(t.duration_ms, 0.5) AS p50_ms,
                   quantile_cont(t.duration_ms, 0.95) AS p95_ms,
                   avg(CASE WHEN t.status = 'ERROR' THEN 1.0 WHEN t.trace_id IS NOT NULL
                       THEN 0.0 END) AS error_rate,
                   sum(t.input_tokens) AS input_tokens, sum(t.output_tokens) AS output_tokens,
                   sum(t.cost_usd) AS cost_usd, avg(t.cost_usd) AS avg_cost_usd,
                   {feedback}
            FROM prompt_versions v
            LEFT JOIN used u ON u.version = v.version
            LEFT JOIN traces t ON t.trace_id = u.trace_id
            WHERE v.name = ?
            GROUP BY v.version, v.commit_message, v.aliases, v.create_time
            ORDER BY v.version DESC
        """
        return runs_db.fetch_dicts(conn, query, [name, name])

    rows = runs_db.read(path, work)
    if not rows:
        raise NotFoundError(f"no prompt named {name!r}")
    return rows


def version_traces(
    name: str, version: int, *, limit: int = 100, store: str | None = None
) -> list[dict[str, Any]]:
    """The traces that loaded version ``version`` of ``name``, newest first: latency, status,
    tokens, cost, and (when the store has assessments) their valid feedback as NAME=VALUE."""
    check_name(name)
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        feedback = _if_assessments(
            conn,
            "NULL::VARCHAR AS feedback",
            "(SELECT string_agg(a.name || '=' || a.value::VARCHAR, ', ' ORDER BY a.name) "
            "FROM assessments a WHERE a.trace_id = t.trace_id AND a.kind = 'feedback' "
            "AND a.valid) AS feedback",
        )
        query = f"""
            SELECT t.trace_id, t.name, t.start_time, t.duration_ms, t.status, t.input_tokens,
                   t.output_tokens, t.cost_usd, {feedback}
            FROM traces t
            WHERE t.trace_id IN (SELECT trace_id FROM trace_prompts WHERE name = ? AND version = ?)
            ORDER BY t.start_time DESC LIMIT ?
        """
        return runs_db.fetch_dicts(conn, query, [name, version, limit])

    return runs_db.read(path, work)
