"""The stream contract: a streamed call's span ends exactly once, on every way out, sync and async.

Ways out: full iteration, ``break``, ``close()`` / ``aclose()``, ``with`` / ``async with``, an
abandoned stream collected by the garbage collector, and the connection dropped mid-stream
(status ERROR, the same exception type raised to the caller). Plus the helpers that hold a
stream (``chat.completions.stream()``, ``responses.stream()``, raw and streaming responses),
``stream_usage=True``, tool calls assembled from deltas, and time to first chunk.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tracepond.testing import FakeOpenAIServer

MODEL = "gpt-4o-mini"
ASK = [{"role": "user", "content": "one two three four five"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a word up",
            "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
        },
    }
]


def only_span(spans: InMemorySpanExporter) -> ReadableSpan:
    finished = spans.get_finished_spans()
    assert len(finished) == 1, [s.name for s in finished]
    return finished[0]


def outcome(spans: InMemorySpanExporter) -> tuple[str, StatusCode]:
    span = only_span(spans)
    return (span.attributes or {})["tracepond.stream.outcome"], span.status.status_code  # type: ignore[return-value]


def create(client: Any, **extra: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=ASK, stream=True, **extra)


async def settle() -> None:
    """Let the event loop run the finalizers of async generators dropped by ``break``."""
    for _ in range(3):
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def no_double_end(caplog: pytest.LogCaptureFixture) -> Any:
    """OpenTelemetry warns when a span is ended twice: no test may trigger that."""
    caplog.set_level(logging.WARNING, logger="opentelemetry")
    yield
    assert not [r for r in caplog.records if "already ended" in r.getMessage()]


# --- sync ------------------------------------------------------------------------------------


def test_full_iteration(traced: InMemorySpanExporter, client: openai.OpenAI) -> None:
    chunks = list(create(client))
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks) == "Echo: one two three four five"
    )
    assert outcome(traced) == ("complete", StatusCode.OK)


def test_break_ends_the_span(traced: InMemorySpanExporter, client: openai.OpenAI) -> None:
    stream = create(client)
    for _chunk in stream:
        break
    assert outcome(traced) == ("stopped", StatusCode.OK)
    stream.close()  # the span ended already: closing changes nothing
    assert len(traced.get_finished_spans()) == 1


def test_close(traced: InMemorySpanExporter, client: openai.OpenAI) -> None:
    stream = create(client)
    next(stream)
    assert traced.get_finished_spans() == ()
    stream.close()
    assert outcome(traced) == ("closed", StatusCode.OK)
    assert stream.response.is_closed


def test_with_block(traced: InMemorySpanExporter, client: openai.OpenAI) -> None:
    with create(client) as stream:
        assert isinstance(stream, openai.Stream)
        next(stream)
    assert outcome(traced) == ("closed", StatusCode.OK)


def test_abandoned_stream_is_collected(traced: InMemorySpanExporter, client: openai.OpenAI) -> None:
    stream = create(client)
    next(stream)
    del stream
    gc.collect()
    assert outcome(traced) == ("abandoned", StatusCode.OK)


def test_connection_dropped_mid_stream(
    traced: InMemorySpanExporter, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    tracepond.autolog(disable=True)
    server.drop_next(after_chunks=2)
    before = []
    with pytest.raises(openai.APIConnectionError) as untraced:
        for chunk in create(client):
            before.append(chunk.model_dump())
    tracepond.autolog(providers=["openai"])
    server.reset()
    server.drop_next(after_chunks=2)
    received = []
    with pytest.raises(openai.APIConnectionError) as raised:
        for chunk in create(client):
            received.append(chunk.model_dump())
    assert type(raised.value) is type(untraced.value)
    assert str(raised.value) == str(untraced.value)
    assert received == before
    assert len(received) == 2  # the role chunk and "Echo:"; then the connection was cut
    span = only_span(traced)
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "APIConnectionError"
    assert (span.attributes or {})["tracepond.stream.outcome"] == "error"
    assert [event.name for event in span.events] == ["exception"]


def test_slow_first_chunk_is_timed(
    traced: InMemorySpanExporter, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    server.slow_next(0.3)
    list(create(client))
    ttfc = only_span(traced).attributes["gen_ai.response.time_to_first_chunk"]  # type: ignore[index]
    assert 0.3 <= ttfc < 10


def test_tool_call_arguments_are_joined_from_deltas(
    traced: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    chunks = list(create(client, tools=TOOLS))
    pieces = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert len(pieces) == 3  # the call head and two argument pieces
    attributes = only_span(traced).attributes or {}
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    (message,) = json.loads(attributes["gen_ai.output.messages"])  # type: ignore[arg-type]
    assert message["finish_reason"] == "tool_calls"
    assert message["parts"] == [
        {
            "type": "tool_call",
            "id": "call_000001",
            "name": "lookup",
            "arguments": {"word": "one two three four five"},
        }
    ]
    (tool,) = json.loads(attributes["gen_ai.tool.definitions"])  # type: ignore[arg-type]
    assert tool == {
        "type": "function",
        "name": "lookup",
        "description": "Look a word up",
        "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
    }


@pytest.mark.parametrize("caller_asked", [False, True])
def test_stream_usage_asks_for_usage_and_hides_the_extra_chunk(
    caller_asked: bool, spans: InMemorySpanExporter, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    extra = {"stream_options": {"include_usage": True}} if caller_asked else {}
    untraced = [c.model_dump() for c in create(client, **extra)]
    tracepond.autolog(providers=["openai"], stream_usage=True)
    server.reset()
    traced = [c.model_dump() for c in create(client, **extra)]
    assert traced == untraced  # the caller sees exactly its own chunks
    assert (traced[-1]["usage"] is not None) is caller_asked
    sent = server.requests[-1].json()
    assert sent["stream_options"] == {"include_usage": True}
    attributes = only_span(spans).attributes or {}
    assert attributes["gen_ai.usage.input_tokens"] == 5
    assert attributes["gen_ai.usage.output_tokens"] == 6
    assert attributes["tracepond.usage.source"] == (
        "provider" if caller_asked else "stream_options"
    )
    assert json.loads(attributes["tracepond.inputs"]).get("stream_options") == extra.get(
        "stream_options"
    )  # type: ignore[arg-type]


def test_chat_stream_helper_ends_when_its_block_exits(
    traced: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    with client.chat.completions.stream(model=MODEL, messages=ASK) as stream:
        for event in stream:
            if event.type == "content.delta":
                break
    assert outcome(traced) == ("closed", StatusCode.OK)


def test_chat_stream_helper_read_to_the_end(
    traced: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    with client.chat.completions.stream(model=MODEL, messages=ASK, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.tool_calls[0].function.name == "lookup"  # type: ignore[index]
    assert outcome(traced) == ("complete", StatusCode.OK)


def test_responses_stream_helper(traced: InMemorySpanExporter, client: openai.OpenAI) -> None:
    with client.responses.stream(model=MODEL, input="one two") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Echo: one two"
    attributes = only_span(traced).attributes or {}
    assert attributes["tracepond.stream.outcome"] == "complete"
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["gen_ai.response.id"] == final.id


def test_responses_stream_helper_left_early(
    traced: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    with client.responses.stream(model=MODEL, input="one two") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                break
    attributes = only_span(traced).attributes or {}
    assert attributes["tracepond.stream.outcome"] == "closed"
    assert attributes["gen_ai.response.id"].startswith("resp_")  # type: ignore[union-attr]


def test_raw_response_stream(traced: InMemorySpanExporter, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=ASK, stream=True)
    assert raw.headers["content-type"] == "text/event-stream"
    chunks = list(raw.parse())
    assert chunks[1].choices[0].delta.content == "Echo:"
    assert outcome(traced) == ("complete", StatusCode.OK)


def test_streaming_response_parsed(traced: InMemorySpanExporter, client: openai.OpenAI) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=ASK, stream=True
    ) as response:
        assert response.status_code == 200
        chunks = list(response.parse())
    assert len(chunks) == 8
    assert outcome(traced) == ("complete", StatusCode.OK)


def test_streaming_response_read_raw_ends_at_exit(
    traced: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=ASK
    ) as response:
        body = json.loads(response.read())
        assert traced.get_finished_spans() == ()
    assert body["choices"][0]["message"]["content"] == "Echo: one two three four five"
    span = only_span(traced)
    assert span.status.status_code is StatusCode.OK
    assert "tracepond.outputs" not in (span.attributes or {})  # raw bytes were read, not parsed


def test_streaming_response_non_stream_parsed(
    traced: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=ASK
    ) as response:
        completion = response.parse()
        assert response.parse() is completion
    attributes = only_span(traced).attributes or {}
    assert attributes["gen_ai.response.id"] == completion.id
    assert attributes["gen_ai.usage.output_tokens"] == 6


# --- async -----------------------------------------------------------------------------------


async def test_async_full_iteration(
    traced: InMemorySpanExporter, async_client: openai.AsyncOpenAI
) -> None:
    stream = await create(async_client)
    assert isinstance(stream, openai.AsyncStream)
    texts = [c.choices[0].delta.content async for c in stream]
    assert "".join(t or "" for t in texts) == "Echo: one two three four five"
    assert outcome(traced) == ("complete", StatusCode.OK)


async def test_async_break(traced: InMemorySpanExporter, async_client: openai.AsyncOpenAI) -> None:
    stream = await create(async_client)
    async for _chunk in stream:
        break
    await settle()
    assert outcome(traced) == ("stopped", StatusCode.OK)
    await stream.close()


@pytest.mark.parametrize("method", ["close", "aclose"])
async def test_async_close(
    method: str, traced: InMemorySpanExporter, async_client: openai.AsyncOpenAI
) -> None:
    stream = await create(async_client)
    await stream.__anext__()
    assert traced.get_finished_spans() == ()
    await getattr(stream, method)()
    assert outcome(traced) == ("closed", StatusCode.OK)


async def test_async_with_block(
    traced: InMemorySpanExporter, async_client: openai.AsyncOpenAI
) -> None:
    async with await create(async_client) as stream:
        assert isinstance(stream, openai.AsyncStream)
        await stream.__anext__()
    assert outcome(traced) == ("closed", StatusCode.OK)


async def test_async_abandoned_stream_is_collected(
    traced: InMemorySpanExporter, async_client: openai.AsyncOpenAI
) -> None:
    stream = await create(async_client)
    await stream.__anext__()
    response = stream.response
    del stream
    gc.collect()
    assert outcome(traced) == ("abandoned", StatusCode.OK)
    await response.aclose()


async def test_async_connection_dropped_mid_stream(
    traced: InMemorySpanExporter, async_client: openai.AsyncOpenAI, server: FakeOpenAIServer
) -> None:
    server.drop_next(after_chunks=2)
    stream = await create(async_client)
    with pytest.raises(openai.APIConnectionError):
        async for _chunk in stream:
            pass
    span = only_span(traced)
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "APIConnectionError"


async def test_async_chat_stream_helper_left_early(
    traced: InMemorySpanExporter, async_client: openai.AsyncOpenAI
) -> None:
    async with async_client.chat.completions.stream(model=MODEL, messages=ASK) as stream:
        async for event in stream:
            if event.type == "content.delta":
                break
    assert outcome(traced) == ("closed", StatusCode.OK)


async def test_async_responses_stream_helper(
    traced: InMemorySpanExporter, async_client: openai.AsyncOpenAI
) -> None:
    async with async_client.responses.stream(
        model=MODEL,
        input="one two",
        tools=[
            {
                "type": "function",
                "name": "lookup",
                "parameters": {"type": "object", "properties": {"w": {"type": "string"}}},
            }
        ],
    ) as stream:
        final = await stream.get_final_response()
    attributes = only_span(traced).attributes or {}
    (message,) = json.loads(attributes["gen_ai.output.messages"])  # type: ignore[arg-type]
    assert message["parts"][0]["name"] == "lookup"
    assert message["parts"][0]["arguments"] == {"w": "one two"}
    assert message["finish_reason"] == "tool_calls"
    assert final.output[0].type == "function_call"


async def test_async_streaming_response(
    traced: InMemorySpanExporter, async_client: openai.AsyncOpenAI
) -> None:
    async with async_client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=ASK, stream=True
    ) as response:
        stream = await response.parse()
        chunks = [chunk async for chunk in stream]
    assert len(chunks) == 8
    assert outcome(traced) == ("complete", StatusCode.OK)
