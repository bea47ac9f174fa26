"""Gemini autolog with the real google-genai client against FakeGeminiServer: the sync/async x
stream/non-stream x success/error matrix, each run untraced then traced, with identical
caller-visible results, and what the span of each recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.genai import types
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tests.autolog.gemini_helpers import (
    AIOHTTP_WARNING,
    GEMINI_KEY,
    MODEL,
    attributes,
    client_for,
    content,
    one_span,
    seen,
)
from tracepond.testing.gemini import FakeGeminiServer

pytestmark = pytest.mark.filterwarnings(AIOHTTP_WARNING)

CONFIG = types.GenerateContentConfig(
    system_instruction="Be brief.", temperature=0.1, max_output_tokens=64
)
ASK = "Name a color"


@pytest.fixture
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(api_key=GEMINI_KEY) as fake:
        yield fake


def script(server: FakeGeminiServer, outcome: str) -> None:
    server.reset()  # ids restart, so the untraced and traced runs see the same answers
    if outcome == "4xx":
        server.fail_next(400, "Request contains an invalid argument.")
    elif outcome == "429":
        server.fail_next(429, "Resource has been exhausted (e.g. check quota).")
    elif outcome == "5xx":
        server.fail_next(503, "The model is overloaded. Please try again later.")
    elif outcome == "drop":
        server.drop_next(after_chunks=2)
    elif outcome == "malformed":
        server.malform_next(after_chunks=1)
    elif outcome == "error_event":
        server.error_in_stream_next(after_chunks=2, status=500, message="Internal error")


def observe_sync(server: FakeGeminiServer, stream: bool, outcome: str) -> list[Any]:
    script(server, outcome)
    observed: list[Any] = []
    with client_for(server) as client:
        try:
            if stream:
                result = client.models.generate_content_stream(
                    model=MODEL, contents=ASK, config=CONFIG
                )
                observed.append(type(result).__name__)
                observed.extend(seen(chunk) for chunk in result)
            else:
                reply = client.models.generate_content(model=MODEL, contents=ASK, config=CONFIG)
                observed.append(seen(reply))
        except Exception as exc:
            observed.append(seen(exc))
    return observed


async def observe_async(server: FakeGeminiServer, stream: bool, outcome: str) -> list[Any]:
    script(server, outcome)
    observed: list[Any] = []
    async with client_for(server).aio as client:
        try:
            if stream:
                result = await client.models.generate_content_stream(
                    model=MODEL, contents=ASK, config=CONFIG
                )
                observed.append(type(result).__name__)
                observed.extend([seen(chunk) async for chunk in result])
            else:
                reply = await client.models.generate_content(
                    model=MODEL, contents=ASK, config=CONFIG
                )
                observed.append(seen(reply))
        except Exception as exc:
            observed.append(seen(exc))
    return observed


ERRORS = {
    "4xx": ("ClientError", 400),
    "429": ("ClientError", 429),
    "5xx": ("ServerError", 503),
    "error_event": ("ServerError", 500),  # Google's error body as an event, mid-stream
}


def check_span(
    spans: InMemorySpanExporter, stream: bool, outcome: str, port: int, is_async: bool = False
) -> None:
    span = one_span(spans)
    a = attributes(span)
    assert span.name == f"generate_content {MODEL}"
    assert a["gen_ai.operation.name"] == "generate_content"
    assert a["gen_ai.provider.name"] == "gcp.gemini"
    assert a["tracepond.span_type"] == "CHAT_MODEL"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.request.temperature"] == 0.1
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.request.stream"] is stream
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == port
    assert content(span, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": ASK}]}
    ]
    assert content(span, "gen_ai.system_instructions") == [{"type": "text", "content": "Be brief."}]
    assert GEMINI_KEY not in str(a)
    if outcome == "ok":
        assert span.status.status_code == StatusCode.OK, (span.status.description, span.events)
        assert a["gen_ai.usage.input_tokens"] == 5  # "Name a color" + "Be brief."
        assert a["gen_ai.usage.output_tokens"] == 4  # "Echo: Name a color"
        assert a["gen_ai.response.finish_reasons"] == ("stop",)
        assert a["gen_ai.response.model"] == MODEL
        assert a["gen_ai.response.id"] == "resp-000001"
        assert content(span, "gen_ai.output.messages") == [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Echo: Name a color"}],
                "finish_reason": "stop",
            }
        ]
        # 5 input tokens at $0.30/M + 4 output at $2.50/M (gemini.json)
        assert a["tracepond.cost.usd"] == pytest.approx((5 * 0.3 + 4 * 2.5) / 1e6)
        assert a["tracepond.cost.source"].startswith("builtin:gemini@")
        if stream:
            assert a["tracepond.stream.outcome"] == "complete"
            assert a["gen_ai.response.time_to_first_chunk"] > 0
        return
    assert span.status.status_code == StatusCode.ERROR
    if outcome in ERRORS:
        error_type, status = ERRORS[outcome]
        assert a["error.type"] == error_type
        assert a["http.response.status_code"] == status
    elif outcome == "drop":
        assert a["error.type"] in ("RemoteProtocolError", "ClientPayloadError")
    else:
        assert a["error.type"] == "UnknownApiResponseError"
    if stream and (not is_async or outcome in ("drop", "malformed", "error_event")):
        # the sync stream sends its request on the first read; the async one when awaited,
        # so an HTTP error there fails the call before any stream exists
        assert a["tracepond.stream.outcome"] == "error"
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes is not None
    assert str(event.attributes["exception.type"]).endswith(a["error.type"])


CASES = [
    (False, "ok"),
    (True, "ok"),
    (False, "4xx"),
    (True, "4xx"),
    (False, "429"),
    (True, "429"),
    (False, "5xx"),
    (True, "5xx"),
    (True, "drop"),
    (True, "malformed"),
    (True, "error_event"),
]


@pytest.mark.parametrize(("stream", "outcome"), CASES)
def test_sync_matrix(
    span_exporter: InMemorySpanExporter, gemini: FakeGeminiServer, stream: bool, outcome: str
) -> None:
    tracepond.configure(store=None)
    untraced = observe_sync(gemini, stream, outcome)
    assert tracepond.autolog(providers=["gemini"]) == ["gemini"]
    traced = observe_sync(gemini, stream, outcome)
    tracepond.autolog(disable=True)
    assert traced == untraced
    check_span(span_exporter, stream, outcome, gemini.port)


@pytest.mark.parametrize(("stream", "outcome"), CASES)
async def test_async_matrix(
    span_exporter: InMemorySpanExporter, gemini: FakeGeminiServer, stream: bool, outcome: str
) -> None:
    tracepond.configure(store=None)
    untraced = await observe_async(gemini, stream, outcome)
    tracepond.autolog(providers=["gemini"])
    traced = await observe_async(gemini, stream, outcome)
    tracepond.autolog(disable=True)
    assert traced == untraced
    check_span(span_exporter, stream, outcome, gemini.port, is_async=True)


def test_streamed_and_whole_answers_record_the_same_outputs(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    tracepond.autolog(providers=["gemini"])
    with client_for(gemini) as client:
        gemini.reset()
        client.models.generate_content(model=MODEL, contents=ASK, config=CONFIG)
        gemini.reset()
        list(client.models.generate_content_stream(model=MODEL, contents=ASK, config=CONFIG))
    whole, streamed = spans.get_finished_spans()
    for key in ("gen_ai.output.messages", "tracepond.outputs"):
        assert content(whole, key) == content(streamed, key)
    assert content(whole, "tracepond.outputs")["text"] == "Echo: Name a color"
