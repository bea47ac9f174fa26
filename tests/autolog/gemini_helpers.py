"""What the Gemini autolog tests share: the real google-genai client against FakeGeminiServer,
and how to read back what a caller saw and what a span recorded."""

from __future__ import annotations

import json
from typing import Any

from google import genai
from google.genai import types
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracepond.testing.gemini import FakeGeminiServer

# Shaped like a real Google API key, so a leak would also trip the value-pattern redaction.
GEMINI_KEY = "AIza" + "SyT3stK3yF0rTracep0nd" * 2
MODEL = "gemini-2.5-flash"
# google-auth's aiohttp session (which client.aio uses when aiohttp is installed) subclasses
# aiohttp's ClientSession, and aiohttp warns about it on every session: not ours to fix.
AIOHTTP_WARNING = (
    "ignore:Inheritance class AiohttpClientSession from ClientSession is discouraged"
    ":DeprecationWarning"
)


def client_for(
    server: FakeGeminiServer, http_options: types.HttpOptions | None = None, **options: Any
) -> genai.Client:
    """A real client talking to the stand-in (no retries unless ``http_options`` asks)."""
    http_options = http_options or types.HttpOptions(base_url=server.base_url)
    return genai.Client(api_key=GEMINI_KEY, http_options=http_options, **options)


def seen(value: Any) -> Any:
    """What a caller can observe of an SDK result, minus the Date header (it moves)."""
    if isinstance(value, types.GenerateContentResponse):
        headers = dict((value.sdk_http_response.headers or {}) if value.sdk_http_response else {})
        headers.pop("date", None)
        headers.pop("Date", None)
        return (value.model_dump(exclude={"sdk_http_response"}), headers)
    if isinstance(value, BaseException):
        return (type(value), str(value))
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude={"sdk_http_response"})
    return value


def one_span(spans: InMemorySpanExporter) -> ReadableSpan:
    finished = spans.get_finished_spans()
    assert len(finished) == 1, [s.name for s in finished]
    return finished[0]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def content(span: ReadableSpan, key: str) -> Any:
    """A content attribute (JSON text) parsed."""
    return json.loads(attributes(span)[key])
