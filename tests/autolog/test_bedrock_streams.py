"""Bedrock event streams end their span exactly once on every way out, sync (boto3) and async
(aiobotocore), and the caller sees exactly what it sees untraced.

Every case runs twice against the same stand-in server: untraced, then traced; what the caller
observed (events, exception type and text) must be equal, and the traced run must leave one span.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aiobotocore.session import get_session
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tracepond.testing.bedrock import DEFAULT_REPLY, FakeBedrockServer

USER = [{"role": "user", "content": [{"text": "Tell me something"}]}]
LLAMA_BODY = json.dumps({"prompt": "Tell me something", "max_gen_len": 32})
APIS = ["converse_stream", "invoke_stream"]
EXITS = ["full", "break", "close", "gc", "error", "drop"]
OUTCOMES = {
    "full": ("complete", StatusCode.OK),
    "break": ("stopped", StatusCode.OK),
    "close": ("closed", StatusCode.OK),
    "gc": ("abandoned", StatusCode.OK),
    "error": ("error", StatusCode.ERROR),
    "drop": ("error", StatusCode.ERROR),
}


@pytest.fixture
def server() -> Iterator[FakeBedrockServer]:
    with FakeBedrockServer() as fake:
        yield fake


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    tracepond.configure(store=None)
    return span_exporter


def script_fault(server: FakeBedrockServer, exit_path: str) -> None:
    if exit_path == "error":
        server.stream_error_next(
            "modelStreamErrorException", "The model broke mid-answer", after_events=3
        )
    elif exit_path == "drop":
        server.drop_next(after_events=3)


def summary(event: dict[str, Any]) -> Any:
    """What a caller would look at in one event (chunk bytes decoded for invoke streams)."""
    if "chunk" in event:
        return json.loads(event["chunk"]["bytes"])
    return event


def open_sync(client: Any, api: str) -> tuple[dict[str, Any], str]:
    if api == "converse_stream":
        return client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=USER), "stream"
    return client.invoke_model_with_response_stream(
        modelId="meta.llama3-8b-instruct-v1:0", body=LLAMA_BODY
    ), "body"


def run_sync(server: FakeBedrockServer, api: str, exit_path: str) -> list[Any]:
    """Drive one stream to its exit; return what the caller observed."""
    client = boto3.client("bedrock-runtime", **server.client_kwargs())
    script_fault(server, exit_path)
    response, key = open_sync(client, api)
    seen: list[Any] = [response[key].__class__.__name__]
    stream = response[key]
    # The urllib3 response under the stream: the test closes it at the end, as a tidy caller
    # would, so a stream left early does not leave its socket for the GC to warn about.
    raw = stream._raw_stream
    try:
        if exit_path in ("full", "error", "drop"):
            for event in stream:
                seen.append(summary(event))
        elif exit_path == "break":
            for event in stream:
                seen.append(summary(event))
                if len(seen) == 3:
                    break
        elif exit_path == "close":
            for event in stream:
                seen.append(summary(event))
                seen.append(stream.close())  # closed from inside the loop, then left
                break
        elif exit_path == "gc":
            del response, stream
            gc.collect()
    except Exception as exc:
        seen.append((type(exc), str(exc)))
    raw.close()
    client.close()
    return seen


async def run_async(server: FakeBedrockServer, api: str, exit_path: str) -> list[Any]:
    async with get_session().create_client("bedrock-runtime", **server.client_kwargs()) as client:
        script_fault(server, exit_path)
        if api == "converse_stream":
            response = await client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=USER)
            key = "stream"
        else:
            response = await client.invoke_model_with_response_stream(
                modelId="meta.llama3-8b-instruct-v1:0", body=LLAMA_BODY
            )
            key = "body"
        stream = response[key]
        seen: list[Any] = [stream.__class__.__name__]
        raw = stream._raw_stream  # aiohttp's response, closed at the end by a tidy caller
        try:
            if exit_path in ("full", "error", "drop"):
                async for event in stream:
                    seen.append(summary(event))
            elif exit_path == "break":
                async for event in stream:
                    seen.append(summary(event))
                    if len(seen) == 3:
                        break
            elif exit_path == "close":
                async for event in stream:
                    seen.append(summary(event))
                    seen.append(stream.close())
                    break
            elif exit_path == "gc":
                del response, stream
                gc.collect()
        except Exception as exc:
            seen.append((type(exc), str(exc)))
        raw.close()
        return seen


def check_span(spans: InMemorySpanExporter, exit_path: str, api: str) -> None:
    finished = spans.get_finished_spans()
    assert len(finished) == 1, [s.name for s in finished]
    (span,) = finished
    attributes = dict(span.attributes or {})
    outcome, status = OUTCOMES[exit_path]
    assert attributes["tracepond.stream.outcome"] == outcome
    assert span.status.status_code == status
    assert attributes["gen_ai.request.stream"] is True
    if exit_path == "full":
        (message,) = json.loads(attributes["gen_ai.output.messages"])
        assert message["parts"] == [{"type": "text", "content": DEFAULT_REPLY}]
        assert attributes["gen_ai.usage.output_tokens"] == 6
        assert attributes["gen_ai.response.finish_reasons"] == (
            ("end_turn",) if api == "converse_stream" else ("stop",)
        )
    if exit_path == "error":
        assert attributes["error.type"] == "EventStreamError"
    if exit_path == "drop":
        assert attributes["error.type"] in (
            "ProtocolError",
            "ResponseStreamingError",
            "ClientPayloadError",
        )
    if status is StatusCode.ERROR:
        assert [e.name for e in span.events] == ["exception"]


@pytest.mark.parametrize("exit_path", EXITS)
@pytest.mark.parametrize("api", APIS)
def test_sync_stream_exit(
    spans: InMemorySpanExporter, server: FakeBedrockServer, api: str, exit_path: str
) -> None:
    untraced = run_sync(server, api, exit_path)
    assert spans.get_finished_spans() == ()
    tracepond.autolog(providers=["bedrock"])
    try:
        traced = run_sync(server, api, exit_path)
        gc.collect()
    finally:
        tracepond.autolog(disable=True)
    assert traced == untraced
    check_span(spans, exit_path, api)


@pytest.mark.parametrize("exit_path", EXITS)
@pytest.mark.parametrize("api", APIS)
async def test_async_stream_exit(
    spans: InMemorySpanExporter, server: FakeBedrockServer, api: str, exit_path: str
) -> None:
    untraced = await run_async(server, api, exit_path)
    assert spans.get_finished_spans() == ()
    tracepond.autolog(providers=["bedrock"])
    try:
        traced = await run_async(server, api, exit_path)
        gc.collect()
        # an async generator left by `break` is closed by the event loop (asyncio's asyncgen
        # finalizer schedules aclose): let the loop run what the collection scheduled
        for _ in range(3):
            await asyncio.sleep(0)
    finally:
        tracepond.autolog(disable=True)
    assert traced == untraced
    check_span(spans, exit_path, api)


def test_partial_stream_keeps_what_arrived(
    spans: InMemorySpanExporter, server: FakeBedrockServer
) -> None:
    tracepond.autolog(providers=["bedrock"])
    try:
        run_sync(server, "converse_stream", "error")
    finally:
        tracepond.autolog(disable=True)
    (span,) = spans.get_finished_spans()
    (message,) = json.loads(dict(span.attributes or {})["gen_ai.output.messages"])
    assert message["parts"] == [
        {"type": "text", "content": "Hello from"}
    ]  # 3 events: start + 2 deltas


def test_tool_call_arguments_assembled_from_stream_deltas(
    spans: InMemorySpanExporter, server: FakeBedrockServer
) -> None:
    tools = {
        "tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}]
    }
    tracepond.autolog(providers=["bedrock"])
    client = boto3.client("bedrock-runtime", **server.client_kwargs())
    try:
        response = client.converse_stream(
            modelId="amazon.nova-pro-v1:0", messages=USER, toolConfig=tools
        )
        deltas = [e for e in response["stream"] if "contentBlockDelta" in e]
    finally:
        tracepond.autolog(disable=True)
        client.close()
    assert len(deltas) == 2  # the arguments came in two pieces
    (span,) = spans.get_finished_spans()
    (message,) = json.loads(dict(span.attributes or {})["gen_ai.output.messages"])
    assert message["parts"] == [
        {
            "type": "tool_call",
            "id": "tooluse_fake0001",
            "name": "lookup",
            "arguments": {"city": "Paris"},
        }
    ]
    assert message["finish_reason"] == "tool_use"
