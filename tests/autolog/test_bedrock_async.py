"""aiobotocore's bedrock-runtime client under autolog: the same spans as boto3, awaited, and the
invoke_model body reads exactly as untraced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiobotocore.response import AioStreamingBody
from aiobotocore.session import get_session
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tracepond.testing.bedrock import DEFAULT_REPLY, FakeBedrockServer

USER = [{"role": "user", "content": [{"text": "Hello there"}]}]
CLAUDE_BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hello there"}],
    }
)


@pytest.fixture
def server() -> Iterator[FakeBedrockServer]:
    with FakeBedrockServer() as fake:
        yield fake


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    tracepond.configure(store=None)
    return span_exporter


@pytest.fixture
def traced() -> Iterator[None]:
    tracepond.autolog(providers=["bedrock"])
    yield
    tracepond.autolog(disable=True)


async def test_async_converse(
    spans: InMemorySpanExporter, traced: None, server: FakeBedrockServer
) -> None:
    async with get_session().create_client("bedrock-runtime", **server.client_kwargs()) as client:
        response = await client.converse(
            modelId="global.anthropic.claude-sonnet-4-20250514-v1:0", messages=USER
        )
    assert response["output"]["message"]["content"] == [{"text": DEFAULT_REPLY}]
    (span,) = spans.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert span.name == "chat global.anthropic.claude-sonnet-4-20250514-v1:0"
    assert span.status.status_code == StatusCode.OK
    assert attributes["gen_ai.usage.input_tokens"] == 2
    assert attributes["gen_ai.usage.output_tokens"] == 6


async def test_async_converse_error(
    spans: InMemorySpanExporter, traced: None, server: FakeBedrockServer
) -> None:
    server.fail_next(503, "ServiceUnavailableException", "Try later")
    async with get_session().create_client("bedrock-runtime", **server.client_kwargs()) as client:
        with pytest.raises(client.exceptions.ServiceUnavailableException, match="Try later"):
            await client.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
    (span,) = spans.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "ServiceUnavailableException"
    assert dict(span.attributes or {})["http.response.status_code"] == 503


async def test_async_invoke_model(
    spans: InMemorySpanExporter, traced: None, server: FakeBedrockServer
) -> None:
    async with get_session().create_client("bedrock-runtime", **server.client_kwargs()) as client:
        response = await client.invoke_model(
            modelId="anthropic.claude-3-haiku-20240307-v1:0", body=CLAUDE_BODY
        )
        async with response["body"] as body:
            data = json.loads(await body.read())
    assert data["content"][0]["text"] == DEFAULT_REPLY
    (span,) = spans.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.response.id"] == "msg_bdrk_fake0001"
    assert attributes["gen_ai.usage.output_tokens"] == 6
    (message,) = json.loads(attributes["gen_ai.output.messages"])
    assert message["parts"] == [{"type": "text", "content": DEFAULT_REPLY}]


@pytest.mark.parametrize(
    "reader", ["read", "read_amounts", "iter_lines", "iter_chunks", "async_for"]
)
async def test_async_invoke_body_reads_exactly_as_untraced(
    server: FakeBedrockServer, reader: str
) -> None:
    server.reply = "first line\nsecond line\nthird"

    async def read_with(client: Any) -> tuple[type, list[bytes], int]:
        response = await client.invoke_model(
            modelId="anthropic.claude-3-haiku-20240307-v1:0", body=CLAUDE_BODY
        )
        body = response["body"]
        if reader == "read":
            parts = [await body.read()]
        elif reader == "read_amounts":
            parts = [await body.read(4), await body.read(9), await body.read(), await body.read()]
        elif reader == "iter_lines":
            parts = [line async for line in body.iter_lines()]
        elif reader == "iter_chunks":
            parts = [chunk async for chunk in body.iter_chunks(chunk_size=10)]
        else:
            parts = [chunk async for chunk in body]
        return type(body), parts, body.tell()

    async with get_session().create_client("bedrock-runtime", **server.client_kwargs()) as client:
        untraced = await read_with(client)
        tracepond.autolog(providers=["bedrock"])
        try:
            traced_result = await read_with(client)
        finally:
            tracepond.autolog(disable=True)
    assert traced_result == untraced
    assert untraced[0] is AioStreamingBody


async def test_async_client_created_before_autolog_is_traced(
    spans: InMemorySpanExporter, server: FakeBedrockServer
) -> None:
    async with get_session().create_client("bedrock-runtime", **server.client_kwargs()) as client:
        tracepond.autolog(providers=["bedrock"])
        try:
            await client.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
        finally:
            tracepond.autolog(disable=True)
        await client.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
    assert len(spans.get_finished_spans()) == 1


async def test_async_invoke_body_cut_mid_read_fails_the_same(
    spans: InMemorySpanExporter, server: FakeBedrockServer
) -> None:
    async def read_cut(client: Any) -> tuple[type, str]:
        server.drop_next()
        response = await client.invoke_model(
            modelId="anthropic.claude-3-haiku-20240307-v1:0", body=CLAUDE_BODY
        )
        try:
            await response["body"].read()
        except Exception as exc:
            response["body"].close()
            return type(exc), str(exc)
        raise AssertionError("the cut body read without an error")

    async with get_session().create_client("bedrock-runtime", **server.client_kwargs()) as client:
        untraced = await read_cut(client)
        tracepond.autolog(providers=["bedrock"])
        try:
            traced = await read_cut(client)
        finally:
            tracepond.autolog(disable=True)
    assert traced == untraced
    (span,) = spans.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == untraced[0].__name__
