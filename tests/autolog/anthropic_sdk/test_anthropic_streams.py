"""Anthropic streams end their span exactly once on every way out, sync and async, for
``messages.create(stream=True)`` and the ``messages.stream()`` helper; the caller sees what it sees
untraced (events, text, final message, exceptions)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tests.autolog.anthropic_sdk.helpers import MODEL, async_client, content, sync_client
from tests.autolog.stream_exits import EXITS, leave_async, leave_sync
from tracepond.testing import FakeAnthropicServer

ASK = [{"role": "user", "content": "one two three four five six"}]
WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
# way out -> (tracepond.stream.outcome, span status)
RAW_EXITS = {**EXITS, "error-event": ("error", StatusCode.ERROR)}
HELPER_EXITS = {
    "events": ("complete", StatusCode.OK),
    "text_stream": ("complete", StatusCode.OK),
    "final_message": ("complete", StatusCode.OK),
    "break": ("closed", StatusCode.OK),  # the with block closes what the break left
    "close": ("closed", StatusCode.OK),
    "raise-in-body": ("closed", StatusCode.OK),  # the caller's own error is not the call's
    "drop": ("error", StatusCode.ERROR),
    "bad-tool-json": ("error", StatusCode.ERROR),  # the helper's own parse of the tool input
}


def script(server: FakeAnthropicServer, exit_path: str) -> None:
    server.reset()
    if exit_path == "drop":
        server.drop_next(after_chunks=5)
    elif exit_path == "error-event":
        server.reply_next(error_after=5)
    elif exit_path == "bad-tool-json":
        server.reply_next(tool_calls=[("get_weather", '{"city": ]')])


def event_text(event: Any) -> Any:
    delta = getattr(event, "delta", None)
    return (event.type, getattr(delta, "text", None))


def raw_sync(server: FakeAnthropicServer, exit_path: str) -> list[Any]:
    script(server, exit_path)
    with sync_client(server) as client:
        return leave_sync(
            client.messages.create(model=MODEL, max_tokens=64, messages=ASK, stream=True),
            exit_path,
            event_text,
        )


async def raw_async(server: FakeAnthropicServer, exit_path: str) -> list[Any]:
    script(server, exit_path)
    async with async_client(server) as client:
        return await leave_async(
            await client.messages.create(model=MODEL, max_tokens=64, messages=ASK, stream=True),
            exit_path,
            event_text,
        )


def helper_kwargs(exit_path: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": ASK}
    if exit_path == "bad-tool-json":
        kwargs["tools"] = [WEATHER]
    return kwargs


def helper_sync(server: FakeAnthropicServer, exit_path: str) -> list[Any]:
    script(server, exit_path)
    seen: list[Any] = []
    with sync_client(server) as client:
        manager = client.messages.stream(**helper_kwargs(exit_path))
        seen.append(manager.__class__.__name__)
        try:
            with manager as stream:
                seen.append(stream.__class__.__name__)
                if exit_path in ("events", "drop", "bad-tool-json"):
                    seen.extend(event_text(e) for e in stream)
                elif exit_path == "text_stream":
                    seen.extend(stream.text_stream)
                elif exit_path == "final_message":
                    seen.append(stream.get_final_message().model_dump())
                elif exit_path == "break":
                    for text in stream.text_stream:
                        seen.append(text)
                        break
                elif exit_path == "close":
                    seen.append(event_text(next(stream)))
                    stream.close()
                elif exit_path == "raise-in-body":
                    seen.append(event_text(next(stream)))
                    raise KeyError("the caller's own bug")
        except (Exception, KeyError) as exc:
            seen.append((type(exc), str(exc)))
    return seen


async def helper_async(server: FakeAnthropicServer, exit_path: str) -> list[Any]:
    script(server, exit_path)
    seen: list[Any] = []
    async with async_client(server) as client:
        manager = client.messages.stream(**helper_kwargs(exit_path))
        seen.append(manager.__class__.__name__)
        try:
            async with manager as stream:
                seen.append(stream.__class__.__name__)
                if exit_path in ("events", "drop", "bad-tool-json"):
                    seen.extend([event_text(e) async for e in stream])
                elif exit_path == "text_stream":
                    seen.extend([text async for text in stream.text_stream])
                elif exit_path == "final_message":
                    seen.append((await stream.get_final_message()).model_dump())
                elif exit_path == "break":
                    async for text in stream.text_stream:
                        seen.append(text)
                        break
                elif exit_path == "close":
                    seen.append(event_text(await stream.__anext__()))
                    await stream.close()
                elif exit_path == "raise-in-body":
                    seen.append(event_text(await stream.__anext__()))
                    raise KeyError("the caller's own bug")
        except (Exception, KeyError) as exc:
            seen.append((type(exc), str(exc)))
    return seen


def check(spans: InMemorySpanExporter, exits: dict[str, Any], exit_path: str) -> None:
    finished = spans.get_finished_spans()
    assert len(finished) == 1  # one span, ended once
    (span,) = finished
    a = dict(span.attributes or {})
    outcome, status = exits[exit_path]
    assert a["tracepond.stream.outcome"] == outcome
    assert span.status.status_code == status
    assert a["gen_ai.request.stream"] is True
    if exit_path != "gc":  # every other way out read message_start first
        assert a["gen_ai.response.id"].startswith("msg_")
    if status == StatusCode.ERROR:
        assert [e.name for e in span.events] == ["exception"]
    if outcome == "complete":
        assert a["gen_ai.usage.input_tokens"] == 6
        assert a["gen_ai.usage.output_tokens"] == 7
        assert a["gen_ai.response.finish_reasons"] == ("end_turn",)
        (message,) = content(a, "gen_ai.output.messages")
        assert message["parts"] == [
            {"type": "text", "content": "Echo: one two three four five six"}
        ]


async def settle() -> None:
    gc.collect()
    for _ in range(3):  # let the loop finalize async generators left by `break`
        await asyncio.sleep(0)


# (how the stream is made, its ways out, the way out), for messages.create and the helper
SYNC_CASES = [(raw_sync, RAW_EXITS, e) for e in RAW_EXITS] + [
    (helper_sync, HELPER_EXITS, e) for e in HELPER_EXITS
]
ASYNC_CASES = [(raw_async, RAW_EXITS, e) for e in RAW_EXITS] + [
    (helper_async, HELPER_EXITS, e) for e in HELPER_EXITS
]


def case_id(value: Any) -> str:
    if callable(value):
        return "create" if value in (raw_sync, raw_async) else "helper"
    return value if isinstance(value, str) else "exits"


@pytest.mark.parametrize(("observe", "exits", "exit_path"), SYNC_CASES, ids=case_id)
def test_sync_stream_exit(
    spans: InMemorySpanExporter,
    anthropic_server: FakeAnthropicServer,
    observe: Any,
    exits: dict[str, Any],
    exit_path: str,
) -> None:
    untraced = observe(anthropic_server, exit_path)
    tracepond.autolog(providers=["anthropic"])
    traced = observe(anthropic_server, exit_path)
    gc.collect()
    tracepond.autolog(disable=True)
    assert traced == untraced
    check(spans, exits, exit_path)


@pytest.mark.parametrize(("observe", "exits", "exit_path"), ASYNC_CASES, ids=case_id)
async def test_async_stream_exit(
    spans: InMemorySpanExporter,
    anthropic_server: FakeAnthropicServer,
    observe: Any,
    exits: dict[str, Any],
    exit_path: str,
) -> None:
    untraced = await observe(anthropic_server, exit_path)
    tracepond.autolog(providers=["anthropic"])
    traced = await observe(anthropic_server, exit_path)
    await settle()
    tracepond.autolog(disable=True)
    assert traced == untraced
    check(spans, exits, exit_path)


def test_a_helper_stream_dropped_without_its_with_block_ends_when_collected(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    with sync_client(anthropic_server) as client:
        stream = client.messages.stream(model=MODEL, max_tokens=64, messages=ASK).__enter__()
        next(stream)
        response = stream.response
        del stream
        gc.collect()
        response.close()
    (span,) = traced.get_finished_spans()
    assert dict(span.attributes or {})["tracepond.stream.outcome"] == "abandoned"


def test_a_helper_manager_never_entered_sends_nothing_and_records_nothing(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    with sync_client(anthropic_server) as client:
        client.messages.stream(model=MODEL, max_tokens=64, messages=ASK)
    assert anthropic_server.requests == []
    assert traced.get_finished_spans() == ()


def test_a_helper_request_that_fails_on_entry_is_one_span_in_error(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    import anthropic

    anthropic_server.fail_next(529, "Overloaded")
    with (
        sync_client(anthropic_server) as client,
        pytest.raises(anthropic.OverloadedError),
        client.messages.stream(model=MODEL, max_tokens=64, messages=ASK) as stream,
    ):
        stream.until_done()
    (span,) = traced.get_finished_spans()
    a = dict(span.attributes or {})
    assert span.status.status_code == StatusCode.ERROR
    assert a["http.response.status_code"] == 529
    assert "tracepond.stream.outcome" not in a  # no stream ever existed
