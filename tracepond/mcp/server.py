"""The tracepond MCP server: tools and resources over one store, built on the official SDK.

    server = build_server("tracepond.duckdb", read_only=False)
    server.run("stdio")                       # or serve_http(...) in tracepond.mcp.http

Every tool answers JSON text. A failure the agent can fix (a malformed filter, SQL that writes,
an unknown trace id) is a tool error carrying the message, never a crash of the server. The
only tool that writes is ``log_feedback``; it is listed when this install has the feedback API
and the server was not started with ``--read-only``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from tracepond._version import __version__
from tracepond.errors import TracepondError
from tracepond.mcp import resources, tools

try:  # the feedback API of the quality features; absent from installs without them
    from tracepond.tracking.assessments import (  # type: ignore[import-not-found,unused-ignore]
        log_feedback as _log_feedback,
    )
except ImportError:  # pragma: no cover - depends on the install
    _log_feedback = None  # type: ignore[assignment,unused-ignore]

INSTRUCTIONS = (
    "Read LLM traces recorded by tracepond. Start with search_traces (a filter language, not "
    "SQL: read the resource tracepond://filter-grammar) to find traces, then get_trace for one "
    "trace's span tree. For counts, costs, latency percentiles or anything else, use sql: "
    "read-only DuckDB SQL over the tables listed in tracepond://schema (traces, spans, "
    "span_events, runs, metrics, prompt_versions, trace_prompts, ...)."
)

FILTER_HELP = (
    "search_traces filter language (not SQL): comparisons =, !=, <, <=, >, >=, LIKE, ILIKE, "
    "IN (...), IS [NOT] NULL over trace columns (status, name, duration_ms, start_time, "
    "session_id, user_id, run_id, cost_usd, error_count, ...), tags.KEY, metadata.KEY, "
    "span.COLUMN (true when any span matches: span.model, span.span_type, span.status, "
    "span.provider, span.attributes.KEY) and prompt.name / prompt.version, joined by AND, OR "
    "and parentheses; values are quoted strings, numbers, TRUE or FALSE. Example: "
    "\"status = 'ERROR' AND span.model = 'gpt-4o-mini'\". Full grammar: tracepond://filter-grammar"
)

_READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _json(data: Any) -> str:
    return orjson.dumps(data, default=str).decode()


def _call(work: Callable[[], Any]) -> str:
    try:
        return _json(work())
    except tools.ToolInputError as exc:
        raise ToolError(str(exc)) from None


def build_server(store: str, *, read_only: bool = False) -> MCPServer:
    """An MCP server over the store at ``store`` (a path; it may not exist yet)."""
    server = MCPServer(
        "tracepond",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
        warn_on_duplicate_tools=False,
    )
    _add_read_tools(server, store)
    if _log_feedback is not None and not read_only:
        _add_feedback_tool(server, store, _log_feedback)
    _add_resources(server, store)
    return server


def _add_read_tools(server: MCPServer, store: str) -> None:
    def search_traces(
        filter: Annotated[str | None, Field(description=FILTER_HELP)] = None,
        max_results: Annotated[int, Field(description="How many traces, 1 to 200.")] = 20,
        order_by: Annotated[
            list[str] | None,
            Field(
                description='e.g. ["duration_ms DESC"]; trace columns only. Default newest first.'
            ),
        ] = None,
    ) -> str:
        return _call(lambda: tools.search_traces(store, filter, max_results, order_by))

    def get_trace(
        trace_id: Annotated[str, Field(description="32 hex characters, from search_traces.")],
    ) -> str:
        return _call(lambda: tools.get_trace(store, trace_id))

    def sql(
        query: Annotated[
            str, Field(description="One read-only DuckDB SQL statement over the store's tables.")
        ],
    ) -> str:
        return _call(lambda: tools.run_sql(store, query))

    def list_runs(
        experiment: Annotated[
            str | None, Field(description="Only runs of this experiment name.")
        ] = None,
        filter: Annotated[
            str | None,
            Field(description="e.g. \"metrics.accuracy > 0.9 AND params.model = 'gpt-4o'\"."),
        ] = None,
        max_results: Annotated[int, Field(description="How many runs, 1 to 200.")] = 50,
    ) -> str:
        return _call(lambda: tools.list_runs(store, experiment, filter, max_results))

    def get_assessments(
        trace_id: Annotated[str, Field(description="32 hex characters, from search_traces.")],
    ) -> str:
        return _call(lambda: tools.get_assessments(store, trace_id))

    described: list[tuple[Callable[..., str], str]] = [
        (
            search_traces,
            "Find traces with the filter language (not SQL). Answers compact rows: trace_id, "
            "name, status, start_time, duration_ms, span_count, error_count, tokens, cost_usd, "
            "session_id, user_id, run_id, tags, and the prompt versions it loaded (prompts: "
            '["name/version"]). Then call get_trace with a trace_id.',
        ),
        (
            get_trace,
            "One trace with its span tree (parents before children, with depth): each span's "
            "type, status, model, tokens, cost, inputs, outputs, attributes, exceptions and the "
            "prompt version it loaded. Long values are cut to 2,000 characters and at most 300 "
            "spans are shown; 'cut' lists everything that was cut (read it whole with sql).",
        ),
        (
            sql,
            "Read-only DuckDB SQL, one statement, at most 200 rows, stopped after 10 s. Tables: "
            "traces, spans, span_events, runs, params, metrics, experiments, models, "
            "model_versions, prompts, prompt_versions, trace_prompts (columns: resource "
            "tracepond://schema). Statements that write, ATTACH, COPY or read files are refused.",
        ),
        (
            list_runs,
            "Runs (experiments' executions), newest first, with params, latest metrics and tags; "
            "their traces: search_traces with filter \"run_id = '...'\".",
        ),
        (
            get_assessments,
            "The feedback and expectations logged on one trace (table assessments): name, "
            "value, source, rationale, error. A tool error when the store has no assessments.",
        ),
    ]
    for fn, description in described:
        server.add_tool(fn, description=description, annotations=_READ, structured_output=False)


def _add_feedback_tool(server: MCPServer, store: str, write: Callable[..., Any]) -> None:
    def log_feedback(
        trace_id: Annotated[str, Field(description="32 hex characters, from search_traces.")],
        name: Annotated[
            str, Field(description="What is judged, e.g. 'correct' or 'helpful'.")
        ] = "feedback",
        value: Annotated[
            bool | float | str | None,
            Field(description="The verdict: true/false, a score or a label."),
        ] = None,
        rationale: Annotated[str | None, Field(description="Why, in a sentence.")] = None,
        source: Annotated[
            str, Field(description="Who judges: 'llm_judge:NAME', 'human:NAME' or 'code:NAME'.")
        ] = "llm_judge:mcp",
    ) -> str:
        def work() -> Any:
            try:
                made = write(trace_id, name, value, source=source, rationale=rationale, store=store)
            except (ValueError, LookupError) as exc:
                raise tools.ToolInputError(str(exc)) from None
            return {"logged": getattr(made, "assessment_id", None), "trace_id": trace_id}

        return _call(work)

    server.add_tool(
        log_feedback,
        description="Record a verdict on a trace (the only tool that writes; off with "
        "--read-only). It appears in get_assessments and in the table assessments.",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False),
        structured_output=False,
    )


def _add_resources(server: MCPServer, store: str) -> None:
    @server.resource(
        resources.SCHEMA_URI,
        name="schema",
        description="The store's tables and columns, with notes and example queries.",
        mime_type="text/plain",
    )
    def schema() -> str:
        try:
            return resources.schema_text(store)
        except TracepondError as exc:  # the store is missing, locked, not a store, ...
            raise ResourceError(f"{type(exc).__name__}: {exc}") from None

    @server.resource(
        resources.FILTER_URI,
        name="filter-grammar",
        description="The search_traces filter language: grammar, fields, examples.",
        mime_type="text/plain",
    )
    def filter_grammar() -> str:
        return resources.filter_text()
