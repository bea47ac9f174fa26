"""tracepond: LLM tracing and observability on OpenTelemetry, stored in DuckDB.

The public API is re-exported here and nothing else lives in this module. Names resolve lazily
so that ``import tracepond`` stays cheap (no DuckDB, no provider client) until a feature is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> "module:attribute". Grouped by owner module; keep each group sorted.
_EXPORTS: dict[str, str] = {
    # configuration
    "configure": "tracepond.config:configure",
    # tracing
    "DROP": "tracepond.tracing.serialize:DROP",
    "ContextThreadPoolExecutor": "tracepond.tracing.context:ContextThreadPoolExecutor",
    "LiveSpan": "tracepond.tracing.spans:LiveSpan",
    "SpanType": "tracepond.tracing.span_types:SpanType",
    "flush": "tracepond.tracing.provider:flush",
    "get_current_span": "tracepond.tracing.spans:get_current_span",
    "get_current_trace_id": "tracepond.tracing.spans:get_current_trace_id",
    "start_span": "tracepond.tracing.spans:start_span",
    "trace": "tracepond.tracing.decorator:trace",
    "update_current_trace": "tracepond.tracing.spans:update_current_trace",
    "wrap_with_context": "tracepond.tracing.context:wrap_with_context",
    # autolog
    "autolog": "tracepond.autolog:autolog",
    # query API
    "Trace": "tracepond.store.model:Trace",
    "get_trace": "tracepond.store.query:get_trace",
    "search_traces": "tracepond.store.query:search_traces",
    "sql": "tracepond.store.query:sql",
    # runs
    # models and registry
}

__all__ = sorted(["__version__", *_EXPORTS])


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'tracepond' has no attribute {name!r}")
    module_name, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static checkers and IDEs see the real objects
    from tracepond.autolog import autolog as autolog
    from tracepond.config import configure as configure
    from tracepond.store.model import Trace as Trace
    from tracepond.store.query import get_trace as get_trace
    from tracepond.store.query import search_traces as search_traces
    from tracepond.store.query import sql as sql
    from tracepond.tracing.context import ContextThreadPoolExecutor as ContextThreadPoolExecutor
    from tracepond.tracing.context import wrap_with_context as wrap_with_context
    from tracepond.tracing.decorator import trace as trace
    from tracepond.tracing.provider import flush as flush
    from tracepond.tracing.serialize import DROP as DROP
    from tracepond.tracing.span_types import SpanType as SpanType
    from tracepond.tracing.spans import LiveSpan as LiveSpan
    from tracepond.tracing.spans import get_current_span as get_current_span
    from tracepond.tracing.spans import get_current_trace_id as get_current_trace_id
    from tracepond.tracing.spans import start_span as start_span
    from tracepond.tracing.spans import update_current_trace as update_current_trace
