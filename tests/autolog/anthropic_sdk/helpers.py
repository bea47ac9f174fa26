"""Helpers and fixtures of the anthropic autolog tests: the stand-in Messages API and the real clients.

The real ``anthropic`` clients talk HTTP to ``FakeAnthropicServer`` (or, for
``AnthropicBedrock``, ``FakeBedrockServer``) on 127.0.0.1; nothing in anthropic is stubbed or
patched by the tests. ``autolog`` is switched off after every test (tests/autolog/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tracepond.testing import FakeAnthropicServer

# Shaped like a real Anthropic key, so that a leak would also trip the value-pattern redaction.
KEY = "sk-ant-api03-" + "T0pS3cretAnthropicKey" * 3
MODEL = "claude-sonnet-4-5"
ASK = [{"role": "user", "content": "Name a color"}]


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def traced(spans: InMemorySpanExporter) -> InMemorySpanExporter:
    tracepond.autolog(providers=["anthropic"])
    return spans


def sync_client(server: FakeAnthropicServer, **options: Any) -> anthropic.Anthropic:
    options.setdefault("max_retries", 0)
    return anthropic.Anthropic(api_key=KEY, base_url=server.base_url, **options)


def async_client(server: FakeAnthropicServer, **options: Any) -> anthropic.AsyncAnthropic:
    options.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(api_key=KEY, base_url=server.base_url, **options)


def attributes_of(spans: InMemorySpanExporter) -> dict[str, Any]:
    """The attributes of the one span finished so far."""
    (span,) = spans.get_finished_spans()
    return dict(span.attributes or {})


def content(attributes: dict[str, Any], key: str) -> Any:
    return json.loads(attributes[key])
