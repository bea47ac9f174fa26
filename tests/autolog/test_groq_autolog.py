"""Groq autolog with the real groq client against FakeGroqServer: the sync/async x stream/non-stream
x success/error matrix, each run untraced then traced with identical caller-visible results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import groq
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tracepond.testing.groq import FakeGroqServer

GROQ_KEY = "gsk_" + "T0pS3cretGroqKey" * 3
MODEL = "llama-3.1-8b-instant"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a color"}]


@pytest.fixture
def groq_server() -> Iterator[FakeGroqServer]:
    with FakeGroqServer(api_key=GROQ_KEY) as fake:
        yield fake


def sync_client(server: FakeGroqServer) -> groq.Groq:
    return groq.Groq(api_key=GROQ_KEY, base_url=server.base_url, max_retries=0)


def async_client(server: FakeGroqServer) -> groq.AsyncGroq:
    return groq.AsyncGroq(api_key=GROQ_KEY, base_url=server.base_url, max_retries=0)


def script(server: FakeGroqServer, outcome: str) -> None:
    server.reset()  # ids restart, so the untraced and traced runs see the same answers
    if outcome == "error":
        server.fail_next(429, "Rate limit reached for model")
    elif outcome == "drop":
        server.drop_next(after_chunks=3)


def observe_sync(server: FakeGroqServer, stream: bool, outcome: str) -> list[Any]:
    script(server, outcome)
    seen: list[Any] = []
    with sync_client(server) as client:
        try:
            result = client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=stream, temperature=0.1
            )
            seen.append(result.__class__.__name__)
            if stream:
                seen.extend(chunk.model_dump() for chunk in result)
            else:
                seen.append(result.model_dump())
        except Exception as exc:
            seen.append((type(exc), str(exc)))
    return seen


async def observe_async(server: FakeGroqServer, stream: bool, outcome: str) -> list[Any]:
    script(server, outcome)
    seen: list[Any] = []
    async with async_client(server) as client:
        try:
            result = await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=stream, temperature=0.1
            )
            seen.append(result.__class__.__name__)
            if stream:
                seen.extend([chunk.model_dump() async for chunk in result])
            else:
                seen.append(result.model_dump())
        except Exception as exc:
            seen.append((type(exc), str(exc)))
    return seen


def check_chat_span(spans: InMemorySpanExporter, stream: bool, outcome: str, port: int) -> None:
    (span,) = spans.get_finished_spans()
    a = dict(span.attributes or {})
    assert span.name == f"chat {MODEL}"
    assert a["gen_ai.provider.name"] == "groq"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.request.temperature"] == 0.1
    assert a["gen_ai.request.stream"] is stream
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == port
    assert json.loads(a["gen_ai.input.messages"])[0] == {
        "role": "system",
        "parts": [{"type": "text", "content": "Be brief."}],
    }
    if outcome == "ok":
        assert span.status.status_code == StatusCode.OK
        assert a["gen_ai.usage.input_tokens"] == 5
        assert a["gen_ai.usage.output_tokens"] == 4  # "Echo: Name a color"
        assert a["tracepond.usage.source"] == ("x_groq" if stream else "provider")
        (message,) = json.loads(a["gen_ai.output.messages"])
        assert message["parts"] == [{"type": "text", "content": "Echo: Name a color"}]
        assert a["gen_ai.response.finish_reasons"] == ("stop",)
    else:
        assert span.status.status_code == StatusCode.ERROR
        assert a["error.type"] in (
            "RateLimitError",
            "APIConnectionError",
            "RemoteProtocolError",
            "APIError",
        )
        if outcome == "error":
            assert a["http.response.status_code"] == 429


CASES = [(False, "ok"), (True, "ok"), (False, "error"), (True, "error"), (True, "drop")]


@pytest.mark.parametrize(("stream", "outcome"), CASES)
def test_sync_matrix(
    span_exporter: InMemorySpanExporter, groq_server: FakeGroqServer, stream: bool, outcome: str
) -> None:
    tracepond.configure(store=None)
    untraced = observe_sync(groq_server, stream, outcome)
    tracepond.autolog(providers=["groq"])
    traced = observe_sync(groq_server, stream, outcome)
    tracepond.autolog(disable=True)
    assert traced == untraced
    check_chat_span(span_exporter, stream, outcome, groq_server.port)


@pytest.mark.parametrize(("stream", "outcome"), CASES)
async def test_async_matrix(
    span_exporter: InMemorySpanExporter, groq_server: FakeGroqServer, stream: bool, outcome: str
) -> None:
    tracepond.configure(store=None)
    untraced = await observe_async(groq_server, stream, outcome)
    tracepond.autolog(providers=["groq"])
    traced = await observe_async(groq_server, stream, outcome)
    tracepond.autolog(disable=True)
    assert traced == untraced
    check_chat_span(span_exporter, stream, outcome, groq_server.port)


def test_client_created_before_autolog_is_traced(
    spans: InMemorySpanExporter, groq_server: FakeGroqServer
) -> None:
    with sync_client(groq_server) as client:
        tracepond.autolog(providers=["groq"])
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
        tracepond.autolog(disable=True)
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert len(spans.get_finished_spans()) == 1


def test_tool_calls_streamed_are_assembled(
    spans: InMemorySpanExporter, groq_server: FakeGroqServer
) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "paint",
                "parameters": {"type": "object", "properties": {"color": {"type": "string"}}},
            },
        }
    ]
    tracepond.autolog(providers=["groq"])
    with sync_client(groq_server) as client:
        chunks = list(
            client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=tools, stream=True)
        )
    assert len(chunks) > 3
    (span,) = spans.get_finished_spans()
    a = dict(span.attributes or {})
    (message,) = json.loads(a["gen_ai.output.messages"])
    (part,) = message["parts"]
    assert part["type"] == "tool_call" and part["name"] == "paint"
    assert part["arguments"] == {"color": "Name a color"}
    assert a["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert json.loads(a["gen_ai.tool.definitions"])[0]["name"] == "paint"


def test_with_raw_response(spans: InMemorySpanExporter, groq_server: FakeGroqServer) -> None:
    tracepond.autolog(providers=["groq"])
    with sync_client(groq_server) as client:
        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
        assert raw.headers["content-type"] == "application/json"
        completion = raw.parse()
        assert raw.parse() is completion
    assert completion.choices[0].message.content == "Echo: Name a color"
    (span,) = spans.get_finished_spans()
    assert dict(span.attributes or {})["gen_ai.response.id"] == completion.id


def test_with_raw_response_streamed(
    spans: InMemorySpanExporter, groq_server: FakeGroqServer
) -> None:
    tracepond.autolog(providers=["groq"])
    with sync_client(groq_server) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=MESSAGES, stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "Echo: Name a color"
    (span,) = spans.get_finished_spans()
    assert dict(span.attributes or {})["tracepond.usage.source"] == "x_groq"


@pytest.mark.parametrize("kind", ["transcriptions", "translations"])
@pytest.mark.parametrize("response_format", ["json", "verbose_json", "text"])
def test_audio(
    spans: InMemorySpanExporter, groq_server: FakeGroqServer, kind: str, response_format: str
) -> None:
    audio = b"RIFF" + b"\x00" * 60

    def call(client: groq.Groq) -> Any:
        resource = getattr(client.audio, kind)
        return resource.create(
            file=("meeting.wav", audio), model="whisper-large-v3", response_format=response_format
        )

    with sync_client(groq_server) as client:
        groq_server.reset()
        untraced = call(client)
        groq_server.reset()
        tracepond.autolog(providers=["groq"])
        traced = call(client)
    assert traced == untraced
    (span,) = spans.get_finished_spans()
    a = dict(span.attributes or {})
    assert (
        span.name
        == ("transcription" if kind == "transcriptions" else "translation") + " whisper-large-v3"
    )
    assert json.loads(a["tracepond.inputs"])["file"] == {"filename": "meeting.wav", "bytes": 64}
    text = traced if isinstance(traced, str) else traced.text
    assert json.loads(a["gen_ai.output.messages"])[0]["parts"][0]["content"] == text
    assert a["gen_ai.output.type"] == ("text" if response_format == "text" else "json")


async def test_async_audio_error(spans: InMemorySpanExporter, groq_server: FakeGroqServer) -> None:
    tracepond.autolog(providers=["groq"])
    groq_server.fail_next(400, "audio file is too short")
    async with async_client(groq_server) as client:
        with pytest.raises(groq.BadRequestError, match="too short"):
            await client.audio.transcriptions.create(
                file=("x.wav", b"RIFF"), model="whisper-large-v3"
            )
    (span,) = spans.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["http.response.status_code"] == 400


def test_embeddings(spans: InMemorySpanExporter, groq_server: FakeGroqServer) -> None:
    tracepond.autolog(providers=["groq"])
    with sync_client(groq_server) as client:
        result = client.embeddings.create(
            model="nomic-embed-text-v1_5", input=["red green", "blue"]
        )
    assert len(result.data) == 2
    (span,) = spans.get_finished_spans()
    a = dict(span.attributes or {})
    assert a["tracepond.span_type"] == "EMBEDDING"
    assert a["gen_ai.operation.name"] == "embeddings"
    assert a["gen_ai.usage.input_tokens"] == 3
    assert a["gen_ai.embeddings.dimension.count"] == 8
    assert "0." not in a["tracepond.outputs"]  # sizes only, never the vectors


def test_groq_key_never_in_span_attributes(
    spans: InMemorySpanExporter, groq_server: FakeGroqServer
) -> None:
    tracepond.autolog(providers=["groq"])
    with sync_client(groq_server) as client:
        client.chat.completions.create(
            model=MODEL, messages=MESSAGES, extra_headers={"Authorization": f"Bearer {GROQ_KEY}"}
        )
        list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert groq_server.requests[0].headers["authorization"] == f"Bearer {GROQ_KEY}"  # it was sent
    for span in spans.get_finished_spans():
        assert GROQ_KEY not in json.dumps(dict(span.attributes or {}), default=str)


def test_with_streaming_response(spans: InMemorySpanExporter, groq_server: FakeGroqServer) -> None:
    tracepond.autolog(providers=["groq"])
    with sync_client(groq_server) as client:
        with client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=MESSAGES
        ) as response:
            completion = response.parse()
        with client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=MESSAGES
        ) as unread:
            assert unread.http_request.url.path == "/openai/v1/chat/completions"
    assert completion.choices[0].message.content == "Echo: Name a color"
    parsed, closed = spans.get_finished_spans()
    assert dict(parsed.attributes or {})["gen_ai.usage.output_tokens"] == 4
    assert closed.status.status_code == StatusCode.OK  # ended when the context closed it, unread
    assert "gen_ai.output.messages" not in dict(closed.attributes or {})
