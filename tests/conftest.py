"""Fixtures every test directory shares.

- Each test runs in a clean environment: no ``TRACEPOND_*`` or ``OTEL_*`` variables from the
  machine, ``TRACEPOND_RAISE_INTERNAL_ERRORS=1`` so tracepond's internal failures fail the test,
  ``TRACEPOND_STORE`` pointing into the test's temporary directory (so a test that traces without
  configuring never writes ``tracepond.duckdb`` into the checkout), and tracepond's tracing and
  settings returned to their import-time state before and after (``provider.reset()``).
- ``store_path``: a fresh store file path in the test's temporary directory (not yet created).
- ``configured``: tracepond configured to write to ``store_path``; yields the Settings.
- ``span_exporter``: an in-memory exporter receiving every tracepond span (no store needed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tracepond.config import Settings
from tracepond.tracing import provider


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("TRACEPOND_", "OTEL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRACEPOND_RAISE_INTERNAL_ERRORS", "1")
    monkeypatch.setenv("TRACEPOND_STORE", str(tmp_path / "default.duckdb"))
    provider.reset()
    yield
    provider.reset()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "t.duckdb"


@pytest.fixture
def configured(store_path: Path) -> Iterator[Settings]:
    settings = tracepond.configure(store=str(store_path))
    yield settings
    provider.reset()


@pytest.fixture
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """Every span tracepond ends, in memory (in addition to the store, if one is configured)."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    provider.remove_span_processor(processor)
