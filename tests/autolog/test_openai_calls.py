"""Every traced openai method family, sync and async, streamed and not, succeeding and failing.

For each case the same call runs untraced and then traced against a fresh stand-in server (ids
restart, so answers are identical), and the test checks two things: what the caller sees is
identical (class, every value, every chunk, or the exception's type, message and status), and
the one span recorded has the conventions' name, kind, status and attributes.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

import tracepond
from tracepond.testing import FakeOpenAIServer

MODEL = "gpt-4o-mini"
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is tracepond?"},
]


class Answer(BaseModel):
    text: str


# family -> (operation name, span type, can stream)
FAMILIES = {
    "chat": ("chat", "CHAT_MODEL", True),
    "chat_parse": ("chat", "CHAT_MODEL", False),
    "responses": ("chat", "CHAT_MODEL", True),
    "responses_parse": ("chat", "CHAT_MODEL", False),
    "embeddings": ("embeddings", "EMBEDDING", False),
    "completions": ("text_completion", "LLM", True),
}
CASES = [
    (family, stream)
    for family, (_op, _type, can_stream) in FAMILIES.items()
    for stream in ((False, True) if can_stream else (False,))
]


def request(client: Any, family: str, stream: bool) -> Any:
    """The call of one family; for the async client it returns the coroutine."""
    streaming = {"stream": True} if stream else {}
    if family == "chat":
        return client.chat.completions.create(model=MODEL, messages=MESSAGES, **streaming)
    if family == "chat_parse":
        return client.chat.completions.parse(model=MODEL, messages=MESSAGES, response_format=Answer)
    if family == "responses":
        return client.responses.create(
            model=MODEL, input="What is tracepond?", instructions="Be brief.", **streaming
        )
    if family == "responses_parse":
        return client.responses.parse(model=MODEL, input="What is tracepond?", text_format=Answer)
    if family == "embeddings":
        return client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
    return client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi", **streaming)


async def visible(client: Any, family: str, stream: bool, server: FakeOpenAIServer) -> Any:
    """Everything the caller can observe of one call, in comparable form."""
    if family in ("chat_parse", "responses_parse"):
        server.reply_next(json.dumps({"text": "tracepond traces LLM calls"}))
    try:
        result = request(client, family, stream)
        if isinstance(client, openai.AsyncOpenAI):
            result = await result
    except openai.APIError as exc:
        return ("raised", exc.__class__, str(exc), getattr(exc, "status_code", None), exc.body)
    if isinstance(result, openai.AsyncStream):
        return (
            "stream",
            result.__class__,
            [chunk.model_dump(warnings=False) async for chunk in result],
        )
    if isinstance(result, openai.Stream):
        return ("stream", result.__class__, [chunk.model_dump(warnings=False) for chunk in result])
    return ("value", result.__class__, result.model_dump(warnings=False))


def make_client(server: FakeOpenAIServer, is_async: bool, api_key: str) -> Any:
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return cls(api_key=api_key, base_url=server.base_url, max_retries=0)


async def close(client: Any) -> None:
    if isinstance(client, openai.AsyncOpenAI):
        await client.close()
    else:
        client.close()


@pytest.mark.parametrize("outcome", ["success", "error"])
@pytest.mark.parametrize(("family", "stream"), CASES)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_caller_sees_the_same_and_one_span_is_recorded(
    family: str,
    stream: bool,
    is_async: bool,
    outcome: str,
    server: FakeOpenAIServer,
    spans: InMemorySpanExporter,
    api_key: str,
) -> None:
    client = make_client(server, is_async, api_key)
    try:
        if outcome == "error":
            server.fail_next(500, "the fake is down")
        untraced = await visible(client, family, stream, server)
        assert spans.get_finished_spans() == ()

        tracepond.autolog(providers=["openai"])
        server.reset()
        if outcome == "error":
            server.fail_next(500, "the fake is down")
        traced = await visible(client, family, stream, server)
    finally:
        await close(client)

    assert traced == untraced
    assert traced[0] == ("raised" if outcome == "error" else ("stream" if stream else "value"))
    (span,) = spans.get_finished_spans()
    check_span(span, family, stream, outcome)


def check_span(span: ReadableSpan, family: str, stream: bool, outcome: str) -> None:
    operation, span_type, can_stream = FAMILIES[family]
    attributes = dict(span.attributes or {})
    model = attributes["gen_ai.request.model"]
    assert span.name == f"{operation} {model}"
    assert span.kind is SpanKind.CLIENT
    assert attributes["gen_ai.operation.name"] == operation
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["tracepond.span_type"] == span_type
    assert attributes["server.address"] == "127.0.0.1"
    assert isinstance(attributes["server.port"], int)
    if can_stream:
        assert attributes["gen_ai.request.stream"] is stream
    assert "tracepond.inputs" in attributes
    if outcome == "error":
        assert span.status.status_code is StatusCode.ERROR
        assert attributes["error.type"] == "InternalServerError"
        assert attributes["http.response.status_code"] == 500
        assert [event.name for event in span.events] == ["exception"]
        assert "tracepond.outputs" not in attributes
        return
    assert span.status.status_code is StatusCode.OK
    assert attributes["gen_ai.response.model"] == model
    assert "tracepond.outputs" in attributes
    if stream and family in ("chat", "completions"):
        # Chat and completions streams carry usage only when asked (stream_options).
        assert "gen_ai.usage.input_tokens" not in attributes
    else:
        assert attributes["gen_ai.usage.input_tokens"] >= 1
        assert attributes["tracepond.usage.source"] == "provider"
    if family == "embeddings":
        assert attributes["gen_ai.embeddings.dimension.count"] == 8
        outputs = json.loads(attributes["tracepond.outputs"])
        assert outputs["data"] == [{"index": 0, "dimensions": 8}, {"index": 1, "dimensions": 8}]
        return
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.response.id"]
    output_messages = json.loads(attributes["gen_ai.output.messages"])
    assert output_messages[0]["role"] == "assistant"
    assert output_messages[0]["finish_reason"] == "stop"
    assert output_messages[0]["parts"][0]["type"] == "text"
    if stream:
        assert attributes["tracepond.stream.outcome"] == "complete"
        assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    input_messages = json.loads(attributes["gen_ai.input.messages"])
    if family.startswith("chat"):
        assert input_messages == [
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "content": "What is tracepond?"}]},
        ]
    if family == "responses":
        assert json.loads(attributes["gen_ai.system_instructions"]) == [
            {"type": "text", "content": "Be brief."}
        ]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_failed_response_ends_the_span_in_error(
    stream: bool, traced: InMemorySpanExporter, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    server.reply_next(failed="server_error")
    result = client.responses.create(model=MODEL, input="hi", stream=stream)
    if stream:
        events = [event.type for event in result]
        assert events[-1] == "response.failed"
    else:
        assert result.status == "failed"
    (span,) = traced.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "server_error"
    assert dict(span.attributes or {})["gen_ai.response.finish_reasons"] == ("error",)
