"""FakeOpenAIServer answers the real openai client (and plain HTTP) as documented."""

from __future__ import annotations

import base64
import struct
import subprocess
import sys
from collections.abc import Iterator

import httpx
import openai
import pytest

from tracepond.testing import FakeOpenAIServer

ASK = [{"role": "user", "content": "hello world"}]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def client(server: FakeOpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0) as c:
        yield c


def test_chat_echo_with_usage(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert reply.choices[0].message.content == "Echo: hello world"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "gpt-4o-mini"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (2, 3)  # type: ignore[union-attr]


def test_chat_stream_sends_usage_only_when_asked(client: openai.OpenAI) -> None:
    plain = list(client.chat.completions.create(model="m", messages=ASK, stream=True))
    assert [c.choices[0].delta.content for c in plain] == ["", "Echo:", " hello", " world", None]
    assert all(c.usage is None for c in plain)
    with_usage = list(
        client.chat.completions.create(
            model="m", messages=ASK, stream=True, stream_options={"include_usage": True}
        )
    )
    assert with_usage[-1].choices == []
    assert with_usage[-1].usage.total_tokens == 5  # type: ignore[union-attr]


def test_tool_call_then_tool_result(client: openai.OpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "search",
                "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
            },
        }
    ]
    first = client.chat.completions.create(model="m", messages=ASK, tools=tools)  # type: ignore[arg-type]
    (call,) = first.choices[0].message.tool_calls  # type: ignore[misc]
    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, call.function.arguments) == ("search", '{"query": "hello world"}')  # type: ignore[union-attr]
    second = client.chat.completions.create(
        model="m",
        messages=[
            *ASK,
            first.choices[0].message,  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "42"},
        ],
        tools=tools,  # type: ignore[arg-type]
    )
    assert second.choices[0].message.content == "Tool said: 42"


def test_stream_chunks_setting() -> None:
    with (
        FakeOpenAIServer(stream_chunks=20) as fake,
        openai.OpenAI(api_key="k", base_url=fake.base_url, max_retries=0) as c,
    ):
        chunks = list(c.chat.completions.create(model="m", messages=ASK, stream=True))
    content = [x for x in chunks if x.choices and x.choices[0].delta.content]
    assert len(content) == 17  # "Echo: hello world" is 17 characters: one per chunk
    assert "".join(x.choices[0].delta.content or "" for x in content) == "Echo: hello world"


def test_responses_json_and_stream(client: openai.OpenAI) -> None:
    response = client.responses.create(model="m", input="hi there", instructions="Be brief")
    assert response.output_text == "Echo: hi there"
    assert response.usage.input_tokens == 4  # type: ignore[union-attr]
    events = [event.type for event in client.responses.create(model="m", input="hi", stream=True)]
    assert events[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert events[-1] == "response.completed"
    assert "response.output_text.delta" in events


def test_embeddings_floats_and_base64(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    floats = client.embeddings.create(
        model="e", input=["a", "b"], dimensions=4, encoding_format="float"
    )
    assert [len(d.embedding) for d in floats.data] == [4, 4]
    raw = httpx.post(
        f"{server.base_url}/embeddings",
        json={"model": "e", "input": "a", "dimensions": 4, "encoding_format": "base64"},
    ).json()
    decoded = struct.unpack("<4f", base64.b64decode(raw["data"][0]["embedding"]))
    assert decoded == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_legacy_completions(client: openai.OpenAI) -> None:
    assert client.completions.create(model="m", prompt="say hi").choices[0].text == " Echo: say hi"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
    ],
)
def test_scripted_status_faults(
    status: int, error: type[Exception], client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    server.fail_next(status, "nope")
    with pytest.raises(error) as raised:
        client.chat.completions.create(model="m", messages=ASK)
    assert raised.value.body["message"] == "nope"  # type: ignore[attr-defined]
    assert client.chat.completions.create(model="m", messages=ASK).choices  # one request only


def test_drop_mid_stream(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    server.drop_next(after_chunks=3)
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="m", messages=ASK, stream=True):
            received.append(chunk)
    assert len(received) == 3


def test_api_key_checked_and_requests_logged(server: FakeOpenAIServer) -> None:
    server.api_key = "sk-right"
    with (
        openai.OpenAI(api_key="sk-wrong", base_url=server.base_url, max_retries=0) as wrong,
        pytest.raises(openai.AuthenticationError),
    ):
        wrong.chat.completions.create(model="m", messages=ASK)
    (request,) = server.requests
    assert request.headers["authorization"] == "Bearer sk-wrong"
    assert request.path == "/v1/chat/completions"
    assert request.json()["messages"] == ASK


def test_groq_and_azure_paths(server: FakeOpenAIServer) -> None:
    for path in ("/openai/v1/chat/completions", "/openai/deployments/d/chat/completions"):
        answer = httpx.post(server.url + path, json={"model": "m", "messages": ASK}).json()
        assert answer["choices"][0]["message"]["content"] == "Echo: hello world"
    assert httpx.post(server.url + "/v1/nothing", json={}).status_code == 404
    assert httpx.post(server.url + "/v1/chat/completions", content=b"{not json").status_code == 400


def test_command_line_entry_point() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tracepond.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        base_url = line.split()[4]
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        answer = httpx.post(
            f"{base_url}/chat/completions", json={"model": "m", "messages": ASK}
        ).json()
        assert answer["choices"][0]["message"]["content"] == "Echo: hello world"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    "body,param,message",
    [
        (
            {"model": "gpt-4o-mini", "messages": "hello"},
            "messages",
            "Invalid type for 'messages': expected an array, but got a string instead.",
        ),
        ({"model": "gpt-4o-mini"}, "messages", "Missing required parameter: 'messages'."),
        (
            {"model": "gpt-4o-mini", "messages": ["hi"]},
            "messages[0]",
            "Invalid type for 'messages[0]': expected an object, but got a string instead.",
        ),
        (
            {"model": 4, "messages": ASK},
            "model",
            "Invalid type for 'model': expected a string, but got an integer instead.",
        ),
    ],
)
def test_a_malformed_chat_request_gets_the_real_apis_400(
    server: FakeOpenAIServer, body: dict[str, object], param: str, message: str
) -> None:
    response = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)
    assert response.status_code == 400  # an answer, not a connection reset
    error = response.json()["error"]
    assert (error["message"], error["param"], error["type"]) == (
        message,
        param,
        "invalid_request_error",
    )
    assert (
        httpx.post(
            f"{server.base_url}/chat/completions", json={"model": "m", "messages": ASK}, timeout=10
        ).status_code
        == 200
    )  # and the server goes on serving


def test_the_real_client_sees_a_bad_request_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages="hello")  # type: ignore[arg-type]
    assert raised.value.status_code == 400 and "expected an array" in str(raised.value)
