"""FakeGeminiServer speaks the Gemini REST API (camelCase JSON, SSE framing, Google's error
bodies), to plain HTTP as to the real google-genai client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tracepond.testing import FakeGeminiServer

MODEL = "gemini-2.5-flash"
KEY = "test-key"


@pytest.fixture
def server() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(api_key=KEY) as fake:
        yield fake


def post(server: FakeGeminiServer, method: str, body: object, key: str = KEY) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1beta/models/{MODEL}:{method}",
        json=body,
        headers={"x-goog-api-key": key},
    )


ASK = {
    "contents": [{"role": "user", "parts": [{"text": "hello world"}]}],
    "systemInstruction": {"parts": [{"text": "Be brief"}]},
}


def test_generate_content_answers_in_the_rest_shape(server: FakeGeminiServer) -> None:
    body = post(server, "generateContent", ASK).json()
    (candidate,) = body["candidates"]
    assert candidate["content"] == {"role": "model", "parts": [{"text": "Echo: hello world"}]}
    assert candidate["finishReason"] == "STOP"
    assert body["usageMetadata"]["promptTokenCount"] == 4  # system instruction counted
    assert body["usageMetadata"]["candidatesTokenCount"] == 3
    assert body["usageMetadata"]["totalTokenCount"] == 7
    assert body["modelVersion"] == MODEL and body["responseId"] == "resp-000001"


def test_stream_is_sse_with_the_finish_and_full_usage_on_the_last_event(
    server: FakeGeminiServer,
) -> None:
    response = post(server, "streamGenerateContent?alt=sse", ASK)
    assert response.headers["content-type"] == "text/event-stream"
    frames = [f for f in response.text.split("\r\n\r\n") if f]
    events = [json.loads(f.removeprefix("data: ")) for f in frames]
    texts = [e["candidates"][0]["content"]["parts"][0]["text"] for e in events]
    assert "".join(texts) == "Echo: hello world" and len(events) == 3
    assert [e["candidates"][0].get("finishReason") for e in events] == [None, None, "STOP"]
    assert "candidatesTokenCount" not in events[0]["usageMetadata"]
    assert events[-1]["usageMetadata"]["candidatesTokenCount"] == 3


def test_errors_use_googles_body_and_a_429_says_when_to_retry(server: FakeGeminiServer) -> None:
    server.fail_next(429, "Quota exceeded")
    response = post(server, "generateContent", ASK)
    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["code"], error["status"], error["message"]) == (
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded",
    )
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
    assert post(server, "generateContent", ASK, key="wrong").json()["error"]["status"] == (
        "INVALID_ARGUMENT"
    )


def test_malformed_event_on_demand(server: FakeGeminiServer) -> None:
    server.malform_next(after_chunks=1)
    frames = [f for f in post(server, "streamGenerateContent", ASK).text.split("\r\n\r\n") if f]
    json.loads(frames[0].removeprefix("data: "))
    with pytest.raises(ValueError):
        json.loads(frames[1].removeprefix("data: "))


def test_embeddings_single_and_batch(server: FakeGeminiServer) -> None:
    one = post(server, "embedContent", {"content": {"parts": [{"text": "a b"}]}}).json()
    assert len(one["embedding"]["values"]) == 8
    batch = post(
        server,
        "batchEmbedContents",
        {"requests": [{"content": {"parts": [{"text": "a b"}]}, "outputDimensionality": 4}]},
    ).json()
    assert len(batch["embeddings"][0]["values"]) == 4
    assert batch["usageMetadata"]["promptTokenCount"] == 2


def test_the_real_client_reads_every_answer(server: FakeGeminiServer) -> None:
    options = types.HttpOptions(base_url=server.base_url)
    with genai.Client(api_key=KEY, http_options=options) as client:
        server.reply_next("Fine.", thought="hmm", cached_tokens=2, model_version="gemini-x-001")
        reply = client.models.generate_content(model=MODEL, contents="how are you")
        assert reply.text == "Fine." and reply.model_version == "gemini-x-001"
        usage = reply.usage_metadata
        assert usage is not None
        assert (usage.cached_content_token_count, usage.thoughts_token_count) == (2, 1)
        server.reply_next(function_calls=[("lookup", {"q": "x"})])
        called = client.models.generate_content(model=MODEL, contents="look it up")
        assert called.function_calls and called.function_calls[0].name == "lookup"
        server.fail_next(500, "Internal error")
        with pytest.raises(errors.ServerError):
            client.models.generate_content(model=MODEL, contents="x")
        assert server.requests[-1].headers["x-goog-api-key"] == KEY
