"""The MCP resources: the store's SQL schema and the filter grammar, as text an agent reads once
so that its first query is right.

The schema is read from the store itself (``information_schema``), so it lists exactly the
tables and columns this store has, with notes on the ones agents use most.
"""

from __future__ import annotations

from tracepond.store import filter as trace_filter
from tracepond.store.query import sql as query_sql

SCHEMA_URI = "tracepond://schema"
FILTER_URI = "tracepond://filter-grammar"

_TABLE_NOTES = {
    "traces": "one row per trace; start_time/end_time UTC; status 'OK' | 'ERROR' | 'UNSET'; "
    "tags and metadata JSON; inputs/outputs are the root span's JSON text",
    "spans": "one row per span; join traces on trace_id; span_type 'LLM', 'CHAT_MODEL', "
    "'TOOL', 'RETRIEVER', 'CHAIN', 'AGENT', ...; model is the model asked for; attributes is "
    "JSON of every OTel attribute (json_extract_string(attributes, '$.\"gen_ai.request.model\"'))",
    "span_events": "events of spans (exceptions: name = 'exception')",
    "prompt_versions": "immutable prompt versions; aliases is a list (list_contains(aliases, 'production'))",
    "trace_prompts": "which prompt version each trace loaded (trace_id, name, version)",
    "assessments": "feedback and expectations logged on traces (value is JSON)",
}

_EXAMPLES = """\
Examples:
  SELECT model, count(*) AS calls, sum(input_tokens + output_tokens) AS tokens
    FROM spans WHERE model IS NOT NULL GROUP BY model ORDER BY calls DESC
  SELECT trace_id, name, duration_ms FROM traces WHERE status = 'ERROR'
    ORDER BY start_time DESC LIMIT 20
  SELECT tp.name, tp.version, count(*) AS traces, avg(t.duration_ms) AS avg_ms
    FROM trace_prompts tp JOIN traces t USING (trace_id) GROUP BY ALL
"""


def schema_text(store: str) -> str:
    """Every table and view of the store with its columns and types, plus usage notes."""
    rows = query_sql(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position",
        store=store,
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column, kind in rows:
        tables.setdefault(table, []).append(f"{column} {kind}")
    lines = [
        "tracepond store: read-only DuckDB SQL (one statement; the sql tool returns at most "
        "200 rows and stops after 10 s). Times are UTC TIMESTAMPs; JSON columns are text that "
        "DuckDB's json functions read.",
        "",
    ]
    for table in sorted(tables):
        note = _TABLE_NOTES.get(table)
        lines.append(f"{table}({', '.join(tables[table])})" + (f"\n  -- {note}" if note else ""))
    return "\n".join([*lines, "", _EXAMPLES])


def filter_text() -> str:
    """The search_traces filter language: grammar, fields and examples."""
    doc = (trace_filter.__doc__ or "").strip()
    fields = ", ".join(sorted(trace_filter.TRACE_FIELDS))
    span_fields = ", ".join(f"span.{name}" for name in sorted(trace_filter.SPAN_FIELDS))
    prompt_fields = ", ".join(f"prompt.{name}" for name in trace_filter.PROMPT_FIELDS)
    return (
        f"{doc}\n\nTrace fields: {fields}\nSpan fields: {span_fields}, span.attributes.KEY\n"
        f"Prompt fields: {prompt_fields}\nAlso: tags.KEY, metadata.KEY\n\n"
        "Examples:\n"
        "  status = 'ERROR' AND start_time > '2026-01-01'\n"
        "  span.model = 'gpt-4o-mini' AND duration_ms > 2000\n"
        "  tags.env = 'prod' OR session_id IN ('s1', 's2')\n"
        "  prompt.name = 'support-system' AND prompt.version = 2\n"
        "  name LIKE 'answer%' AND span.span_type = 'TOOL' AND span.status = 'ERROR'\n"
    )
