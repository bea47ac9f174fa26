"""Gemini streams end their span exactly once on every way out, sync and async, and the caller
sees what it sees untraced.

The stream a caller holds is the SDK's own generator (``generate_content_stream`` and
``send_message_stream`` return plain generators around the request's stream, which is the one
autolog traces), so its ways out are a generator's: read to the end, ``break`` (the generator
is closed when it goes, at once in CPython), ``close()`` / ``aclose()``, collected by the GC,
an error mid-stream. A stream never read sends no request and records nothing.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tests.autolog.gemini_helpers import AIOHTTP_WARNING, MODEL, attributes, client_for, seen
from tracepond.testing.gemini import FakeGeminiServer

pytestmark = pytest.mark.filterwarnings(AIOHTTP_WARNING)

ASK = "one two three four five six"
EXITS = {
    "full": ({"complete"}, StatusCode.OK),
    "break": ({"stopped"}, StatusCode.OK),
    "close": ({"stopped"}, StatusCode.OK),
    "gc": ({"stopped", "abandoned"}, StatusCode.OK),
    "drop": ({"error"}, StatusCode.ERROR),
}


@pytest.fixture
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as fake:
        yield fake


def read_sync(client: Any, exit_path: str, via_chat: bool) -> list[Any]:
    if via_chat:
        stream = client.chats.create(model=MODEL).send_message_stream(ASK)
    else:
        stream = client.models.generate_content_stream(model=MODEL, contents=ASK)
    observed: list[Any] = [type(stream).__name__]
    if exit_path in ("full", "drop"):
        observed.extend(seen(chunk) for chunk in stream)
    elif exit_path == "break":
        for chunk in stream:
            observed.append(seen(chunk))
            if len(observed) == 3:
                break
    elif exit_path == "close":
        observed.append(seen(next(stream)))
        stream.close()
    elif exit_path == "gc":
        observed.append(seen(next(stream)))
        del stream
        gc.collect()
    return observed  # a stream left after break is closed as this frame goes


def run_sync(server: FakeGeminiServer, exit_path: str, via_chat: bool) -> list[Any]:
    server.reset()
    if exit_path == "drop":
        server.drop_next(after_chunks=3)
    with client_for(server) as client:
        try:
            return read_sync(client, exit_path, via_chat)
        except Exception as exc:
            return [seen(exc)]


async def read_async(client: Any, exit_path: str) -> list[Any]:
    stream = await client.models.generate_content_stream(model=MODEL, contents=ASK)
    observed: list[Any] = [type(stream).__name__]
    if exit_path in ("full", "drop"):
        observed.extend([seen(chunk) async for chunk in stream])
    elif exit_path == "break":
        async for chunk in stream:
            observed.append(seen(chunk))
            if len(observed) == 3:
                break
        await stream.aclose()  # an async generator is closed by aclose or by the loop, later
    elif exit_path == "close":
        observed.append(seen(await stream.__anext__()))
        await stream.aclose()
    elif exit_path == "gc":
        observed.append(seen(await stream.__anext__()))
        del stream
        gc.collect()
        for _ in range(5):  # the loop's async-generator finalizer runs aclose() soon after
            await asyncio.sleep(0)
    return observed


async def run_async(server: FakeGeminiServer, exit_path: str) -> list[Any]:
    server.reset()
    if exit_path == "drop":
        server.drop_next(after_chunks=3)
    async with client_for(server).aio as client:
        try:
            return await read_async(client, exit_path)
        except Exception as exc:
            return [seen(exc)]


def check(spans: InMemorySpanExporter, exit_path: str) -> None:
    finished = spans.get_finished_spans()
    assert len(finished) == 1, [s.name for s in finished]
    (span,) = finished
    a = attributes(span)
    outcomes, status = EXITS[exit_path]
    assert a["tracepond.stream.outcome"] in outcomes
    assert span.status.status_code == status
    assert a["gen_ai.request.stream"] is True
    if exit_path == "full":
        assert a["gen_ai.usage.output_tokens"] == 7  # "Echo: one two three four five six"
        assert a["gen_ai.response.finish_reasons"] == ("stop",)


@pytest.mark.parametrize("via_chat", [False, True], ids=["models", "chat"])
@pytest.mark.parametrize("exit_path", list(EXITS))
def test_sync_stream_exits(
    span_exporter: InMemorySpanExporter, gemini: FakeGeminiServer, exit_path: str, via_chat: bool
) -> None:
    tracepond.configure(store=None)
    untraced = run_sync(gemini, exit_path, via_chat)
    tracepond.autolog(providers=["gemini"])
    traced = run_sync(gemini, exit_path, via_chat)
    tracepond.autolog(disable=True)
    assert traced == untraced
    check(span_exporter, exit_path)


@pytest.mark.parametrize("exit_path", list(EXITS))
async def test_async_stream_exits(
    span_exporter: InMemorySpanExporter, gemini: FakeGeminiServer, exit_path: str
) -> None:
    tracepond.configure(store=None)
    untraced = await run_async(gemini, exit_path)
    tracepond.autolog(providers=["gemini"])
    traced = await run_async(gemini, exit_path)
    tracepond.autolog(disable=True)
    assert traced == untraced
    check(span_exporter, exit_path)


def test_a_stream_never_read_sends_nothing_and_records_nothing(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    tracepond.autolog(providers=["gemini"])
    with client_for(gemini) as client:
        stream = client.models.generate_content_stream(model=MODEL, contents=ASK)
        del stream
        gc.collect()
    assert gemini.requests == []
    assert spans.get_finished_spans() == ()


async def test_async_chat_stream_is_one_span_with_the_history(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    tracepond.autolog(providers=["gemini"])
    async with client_for(gemini).aio as client:
        chat = client.chats.create(model=MODEL)
        await chat.send_message("first")
        texts = [chunk.text async for chunk in await chat.send_message_stream("second")]
    assert "".join(t or "" for t in texts) == "Echo: second"
    first, second = spans.get_finished_spans()
    assert attributes(first)["gen_ai.request.stream"] is False
    assert attributes(second)["gen_ai.request.stream"] is True
    assert attributes(second)["tracepond.stream.outcome"] == "complete"
    history = json.loads(attributes(second)["gen_ai.input.messages"])
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[1]["parts"] == [{"type": "text", "content": "Echo: first"}]


def lookup(city: str) -> str:
    """Finds a city."""
    return f"found {city}"


def test_a_stream_with_automatic_function_calling_is_one_span_per_request(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    tracepond.autolog(providers=["gemini"])
    with client_for(gemini) as client:
        chunks = list(
            client.models.generate_content_stream(
                model=MODEL, contents="Paris", config={"tools": [lookup]}
            )
        )
    assert "".join(c.text or "" for c in chunks) == 'Tool said: {"result": "found Paris"}'
    asked, answered = spans.get_finished_spans()
    assert attributes(asked)["tracepond.stream.outcome"] == "complete"
    assert json.loads(attributes(asked)["gen_ai.output.messages"])[0]["parts"][0]["type"] == (
        "tool_call"
    )
    assert attributes(answered)["tracepond.stream.outcome"] == "complete"
    assert answered.parent is None or answered.parent.span_id != asked.context.span_id
