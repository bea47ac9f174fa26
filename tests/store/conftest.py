"""Helpers for the store's tests: spans made by the real OpenTelemetry SDK, written through the
real DuckDBSpanProcessor (no tracepond tracing layer needed)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from tracepond.config import Settings
from tracepond.exporters.duckdb import DuckDBSpanProcessor


@dataclass
class Pipeline:
    provider: TracerProvider
    processor: DuckDBSpanProcessor
    tracer: Tracer
    store: str

    def flush(self) -> None:
        assert self.processor.force_flush(10_000)


def make_pipeline(store: Path | str, **settings: Any) -> Pipeline:
    options = {"queue_size": 20_000, "batch_size": 2_000, "flush_interval_s": 60.0, **settings}
    processor = DuckDBSpanProcessor(str(store), Settings(store=str(store), **options))
    provider = TracerProvider(
        resource=Resource.create({"service.name": "store-tests"}), shutdown_on_exit=False
    )
    provider.add_span_processor(processor)
    return Pipeline(provider, processor, provider.get_tracer("tests"), str(store))


@pytest.fixture
def pipeline(store_path: Path) -> Iterator[Pipeline]:
    made = make_pipeline(store_path)
    yield made
    made.provider.shutdown()


def file_digest(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
