"""Anthropic autolog with the real anthropic client against FakeAnthropicServer: the sync/async x
stream/non-stream x success/fault matrix, each run untraced then traced with identical
caller-visible results (values, exception types and messages), and the span each leaves."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tests.autolog.anthropic_sdk.helpers import (
    ASK,
    MODEL,
    async_client,
    attributes_of,
    content,
    sync_client,
)
from tracepond.testing import FakeAnthropicServer

SYSTEM = "Be brief."
# outcome -> (what the server does, the exception type the caller sees or None)
OUTCOMES: dict[str, tuple[str, type[BaseException] | None]] = {
    "ok": ("", None),
    "400": ("fail 400", anthropic.BadRequestError),
    "401": ("fail 401", anthropic.AuthenticationError),
    "429": ("retry-after", anthropic.RateLimitError),
    "500": ("fail 500", anthropic.InternalServerError),
    "529": ("fail 529", anthropic.OverloadedError),
    "drop": ("drop", httpx2.TransportError),  # the SDK lets the transport's error through
    "error-event": ("error event", anthropic.APIStatusError),
    "malformed": ("malformed", ValueError),
}
STREAM_ONLY = {"drop", "error-event", "malformed"}
CASES = [
    (stream, outcome)
    for stream in (False, True)
    for outcome in OUTCOMES
    if stream or outcome not in STREAM_ONLY
]


def script(server: FakeAnthropicServer, outcome: str) -> None:
    server.reset()  # ids restart, so the untraced and traced runs see the same answers
    action = OUTCOMES[outcome][0]
    if action.startswith("fail"):
        server.fail_next(int(action.split()[1]), f"scripted {outcome}")
    elif action == "retry-after":
        server.rate_limit_next(retry_after=7)
    elif action == "drop":
        server.drop_next(after_chunks=4)
    elif action == "error event":
        server.reply_next(error_after=4)
    elif action == "malformed":
        server.reply_next(malformed_after=4)


def seen_error(exc: BaseException) -> tuple[Any, ...]:
    """What the caller can tell about an exception: type, text, status and retry-after."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", {}) or {}
    return (type(exc), str(exc), getattr(exc, "status_code", None), headers.get("retry-after"))


def call_kwargs(stream: bool) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 64,
        "messages": ASK,
        "system": SYSTEM,
        "stop_sequences": ["END"],
        "stream": stream,
    }


def observe_sync(server: FakeAnthropicServer, stream: bool, outcome: str) -> list[Any]:
    script(server, outcome)
    seen: list[Any] = []
    with sync_client(server) as client:
        try:
            result = client.messages.create(**call_kwargs(stream))
            seen.append(result.__class__.__name__)
            if stream:
                seen.extend(event.model_dump() for event in result)
            else:
                seen.append(result.model_dump())
        except Exception as exc:
            seen.append(seen_error(exc))
    return seen


async def observe_async(server: FakeAnthropicServer, stream: bool, outcome: str) -> list[Any]:
    script(server, outcome)
    seen: list[Any] = []
    async with async_client(server) as client:
        try:
            result = await client.messages.create(**call_kwargs(stream))
            seen.append(result.__class__.__name__)
            if stream:
                seen.extend([event.model_dump() async for event in result])
            else:
                seen.append(result.model_dump())
        except Exception as exc:
            seen.append(seen_error(exc))
    return seen


def assert_fault_reached_the_caller(outcome: str, seen: list[Any]) -> None:
    expected = OUTCOMES[outcome][1]
    if expected is not None:  # the fault reached the caller as the SDK's own exception
        assert issubclass(seen[-1][0], expected)


def check_span(
    spans: InMemorySpanExporter, stream: bool, outcome: str, port: int, seen: list[Any]
) -> None:
    (span,) = spans.get_finished_spans()
    a = dict(span.attributes or {})
    assert span.name == f"chat {MODEL}"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["tracepond.span_type"] == "CHAT_MODEL"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.request.stop_sequences"] == ("END",)
    assert a["gen_ai.request.stream"] is stream
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == port
    assert content(a, "gen_ai.system_instructions") == [{"type": "text", "content": SYSTEM}]
    assert content(a, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Name a color"}]}
    ]
    if outcome == "ok":
        assert span.status.status_code == StatusCode.OK
        assert a["gen_ai.response.id"] == "msg_000001"
        assert a["gen_ai.response.model"] == MODEL
        assert a["gen_ai.response.finish_reasons"] == ("end_turn",)
        assert a["gen_ai.usage.input_tokens"] == 5  # "Be brief." + "Name a color"
        assert a["gen_ai.usage.output_tokens"] == 4  # "Echo: Name a color"
        assert content(a, "gen_ai.output.messages") == [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Echo: Name a color"}],
                "finish_reason": "end_turn",
            }
        ]
        assert a["tracepond.cost.source"].startswith("builtin:anthropic@")
        assert a["tracepond.cost.usd"] == pytest.approx((5 * 3.0 + 4 * 15.0) / 1e6)
        if stream:
            assert a["tracepond.stream.outcome"] == "complete"
            assert a["gen_ai.response.time_to_first_chunk"] > 0
        return
    assert span.status.status_code == StatusCode.ERROR
    assert a["error.type"] == seen[-1][0].__name__  # the very exception the caller got
    assert [event.name for event in span.events] == ["exception"]
    if outcome.isdigit():
        assert a["http.response.status_code"] == int(outcome)
        assert "gen_ai.usage.input_tokens" not in a
    if outcome in STREAM_ONLY:
        assert a["tracepond.stream.outcome"] == "error"
        assert a["gen_ai.response.id"] == "msg_000001"  # what arrived before the fault


@pytest.mark.parametrize(("stream", "outcome"), CASES)
def test_sync_matrix(
    spans: InMemorySpanExporter,
    anthropic_server: FakeAnthropicServer,
    stream: bool,
    outcome: str,
) -> None:
    untraced = observe_sync(anthropic_server, stream, outcome)
    tracepond.autolog(providers=["anthropic"])
    traced = observe_sync(anthropic_server, stream, outcome)
    tracepond.autolog(disable=True)
    assert traced == untraced
    assert_fault_reached_the_caller(outcome, untraced)
    check_span(spans, stream, outcome, anthropic_server.port, untraced)


@pytest.mark.parametrize(("stream", "outcome"), CASES)
async def test_async_matrix(
    spans: InMemorySpanExporter,
    anthropic_server: FakeAnthropicServer,
    stream: bool,
    outcome: str,
) -> None:
    untraced = await observe_async(anthropic_server, stream, outcome)
    tracepond.autolog(providers=["anthropic"])
    traced = await observe_async(anthropic_server, stream, outcome)
    tracepond.autolog(disable=True)
    assert traced == untraced
    assert_fault_reached_the_caller(outcome, untraced)
    check_span(spans, stream, outcome, anthropic_server.port, untraced)


def test_the_429_the_caller_sees_carries_the_servers_retry_after(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.rate_limit_next(retry_after=7)
    with sync_client(anthropic_server) as client, pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(model=MODEL, max_tokens=8, messages=ASK)
    assert raised.value.response.headers["retry-after"] == "7"
    assert raised.value.body["error"]["type"] == "rate_limit_error"
    a = attributes_of(traced)
    assert a["error.type"] == "RateLimitError"
    assert a["http.response.status_code"] == 429


def test_a_429_the_sdk_retries_gives_one_span_that_ends_ok(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.rate_limit_next(retry_after=0)
    with sync_client(anthropic_server, max_retries=1) as client:
        reply = client.messages.create(model=MODEL, max_tokens=8, messages=ASK)
    assert reply.content[0].text == "Echo: Name a color"
    assert len(anthropic_server.requests) == 2  # the 429, then the retry
    (span,) = traced.get_finished_spans()
    assert span.status.status_code == StatusCode.OK


def test_a_request_the_sdk_refuses_is_its_own_error_and_a_span_in_error(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    with sync_client(anthropic_server) as client, pytest.raises(TypeError) as raised:
        client.messages.create(model=MODEL, messages=ASK)  # type: ignore[call-overload]
    assert "max_tokens" in str(raised.value)
    assert anthropic_server.requests == []  # nothing left the process
    (span,) = traced.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "TypeError"


def test_parse_is_traced_like_create(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    import pydantic

    class Color(pydantic.BaseModel):
        name: str

    anthropic_server.reply_next('{"name": "teal"}')
    with sync_client(anthropic_server) as client:
        parsed = client.messages.parse(
            model=MODEL, max_tokens=32, messages=ASK, output_format=Color
        )
    assert parsed.parsed_output == Color(name="teal")
    a = attributes_of(traced)
    assert a["gen_ai.output.type"] == "json"
    assert content(a, "gen_ai.output.messages")[0]["parts"] == [
        {"type": "text", "content": '{"name": "teal"}'}
    ]
    assert content(a, "tracepond.outputs")["content"][0]["text"] == '{"name": "teal"}'


def test_client_created_before_autolog_is_traced_and_disable_stops_it(
    spans: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    with sync_client(anthropic_server) as client:
        client.messages.create(model=MODEL, max_tokens=8, messages=ASK)
        assert spans.get_finished_spans() == ()
        assert tracepond.autolog(providers=["anthropic"]) == ["anthropic"]
        client.messages.create(model=MODEL, max_tokens=8, messages=ASK)
        assert len(spans.get_finished_spans()) == 1
        tracepond.autolog(disable=True)
        client.messages.create(model=MODEL, max_tokens=8, messages=ASK)
        with client.messages.stream(model=MODEL, max_tokens=8, messages=ASK) as stream:
            stream.until_done()
    assert len(spans.get_finished_spans()) == 1
