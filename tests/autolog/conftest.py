"""Fixtures for the autolog tests: the stand-in OpenAI server, real clients, captured spans.

The real ``openai`` clients talk HTTP to ``FakeOpenAIServer`` on 127.0.0.1; nothing in openai is
stubbed or patched by the tests. Every test ends with autolog switched off, whatever it did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tracepond.testing import FakeOpenAIServer

# Shaped like a real OpenAI key, so that a leak would also trip the value-pattern redaction.
API_KEY = "sk-test-" + "S3cr3tK3y" * 4


@pytest.fixture(autouse=True)
def autolog_off_after() -> Iterator[None]:
    yield
    tracepond.autolog(disable=True)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    """Spans in memory only (no store)."""
    tracepond.configure(store=None)
    return span_exporter


@pytest.fixture
def traced(spans: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    tracepond.autolog(providers=["openai"])
    yield spans
    tracepond.autolog(disable=True)


@pytest.fixture
def client(server: FakeOpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=API_KEY, base_url=server.base_url, max_retries=0) as sync_client:
        yield sync_client


@pytest.fixture
async def async_client(server: FakeOpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        api_key=API_KEY, base_url=server.base_url, max_retries=0
    ) as async_openai:
        yield async_openai


@pytest.fixture
def api_key() -> str:
    return API_KEY
