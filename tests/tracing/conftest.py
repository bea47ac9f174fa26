"""Fixtures of the tracing tests: tracepond with no store, its spans in memory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """tracepond configured without a local store; every span it ends lands in memory."""
    tracepond.configure(store=None)
    yield span_exporter
