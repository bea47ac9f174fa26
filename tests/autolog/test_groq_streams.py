"""Groq chat streams end their span exactly once on every way out, sync and async, and the caller
sees what it sees untraced."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import groq
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tests.autolog.stream_exits import EXITS, leave_async, leave_sync
from tracepond.testing.groq import FakeGroqServer

KEY = "gsk_stream_test_key_0123456789"
MODEL = "llama-3.3-70b-versatile"
MESSAGES = [{"role": "user", "content": "one two three four five six"}]


@pytest.fixture
def groq_server() -> Iterator[FakeGroqServer]:
    with FakeGroqServer() as fake:
        yield fake


def text_of(chunk: Any) -> Any:
    return chunk.choices[0].delta.content if chunk.choices else None


def run_sync(server: FakeGroqServer, exit_path: str) -> list[Any]:
    server.reset()
    if exit_path == "drop":
        server.drop_next(after_chunks=3)
    with groq.Groq(api_key=KEY, base_url=server.base_url, max_retries=0) as client:
        return leave_sync(
            client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True),
            exit_path,
            text_of,
        )


async def run_async(server: FakeGroqServer, exit_path: str) -> list[Any]:
    server.reset()
    if exit_path == "drop":
        server.drop_next(after_chunks=3)
    async with groq.AsyncGroq(api_key=KEY, base_url=server.base_url, max_retries=0) as client:
        return await leave_async(
            await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True),
            exit_path,
            text_of,
        )


def check(spans: InMemorySpanExporter, exit_path: str) -> None:
    finished = spans.get_finished_spans()
    assert len(finished) == 1
    (span,) = finished
    a = dict(span.attributes or {})
    outcome, status = EXITS[exit_path]
    assert a["tracepond.stream.outcome"] == outcome
    assert span.status.status_code == status
    if exit_path == "full":
        assert a["tracepond.usage.source"] == "x_groq"
        assert a["gen_ai.usage.output_tokens"] == 7
    if exit_path == "drop":
        assert [e.name for e in span.events] == ["exception"]


@pytest.mark.parametrize("exit_path", list(EXITS))
def test_sync_stream_exit(
    span_exporter: InMemorySpanExporter, groq_server: FakeGroqServer, exit_path: str
) -> None:
    tracepond.configure(store=None)
    untraced = run_sync(groq_server, exit_path)
    tracepond.autolog(providers=["groq"])
    try:
        traced = run_sync(groq_server, exit_path)
        gc.collect()
    finally:
        tracepond.autolog(disable=True)
    assert traced == untraced
    check(span_exporter, exit_path)


@pytest.mark.parametrize("exit_path", list(EXITS))
async def test_async_stream_exit(
    span_exporter: InMemorySpanExporter, groq_server: FakeGroqServer, exit_path: str
) -> None:
    tracepond.configure(store=None)
    untraced = await run_async(groq_server, exit_path)
    tracepond.autolog(providers=["groq"])
    try:
        traced = await run_async(groq_server, exit_path)
        gc.collect()
        for _ in range(3):  # let the loop finalize async generators left by `break`
            await asyncio.sleep(0)
    finally:
        tracepond.autolog(disable=True)
    assert traced == untraced
    check(span_exporter, exit_path)
