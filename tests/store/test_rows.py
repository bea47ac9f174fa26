"""Span -> row conversion details that the writer tests do not reach."""

from __future__ import annotations

import gc

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags

from tracepond.store.rows import S, span_record


def _span(resource: Resource, n: int) -> ReadableSpan:
    context = SpanContext(n + 1, n + 1, is_remote=False, trace_flags=TraceFlags(1))
    return ReadableSpan(name="s", context=context, resource=resource, start_time=1, end_time=2)


def test_each_span_gets_its_own_resources_service_name() -> None:
    """Resources come and go (one per provider); a freed resource's id may be reused by the
    next one, and its service name must not be."""
    for n in range(200):
        resource = Resource.create({"service.name": f"service-{n}"})
        row = span_record(_span(resource, n), is_root=True).row
        assert row[S["service_name"]] == f"service-{n}"
        del resource  # freed here: a Resource holds no cycles
        # Young objects only: a full collection costs 0.5 s or more once the suite has imported
        # LangChain, LangGraph and the Agents SDK, and 200 of them outran the test timeout.
        gc.collect(0)
