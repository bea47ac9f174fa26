"""FakeAnthropicServer answers the real anthropic client (and plain HTTP) as documented: the
Messages API's JSON and event stream, its error bodies, and the faults it scripts."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from tracepond.testing import FakeAnthropicServer

KEY = "sk-ant-test-key"
MODEL = "claude-haiku-4-5"
ASK = [{"role": "user", "content": "hello world"}]


@pytest.fixture
def server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def client(server: FakeAnthropicServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key=KEY, base_url=server.base_url, max_retries=0) as c:
        yield c


def test_echo_with_usage(client: anthropic.Anthropic, server: FakeAnthropicServer) -> None:
    reply = client.messages.create(model=MODEL, max_tokens=16, messages=ASK)
    assert reply.content[0].type == "text" and reply.content[0].text == "Echo: hello world"
    assert (reply.id, reply.model, reply.stop_reason) == ("msg_000001", MODEL, "end_turn")
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (2, 3)
    assert server.requests[0].path == "/v1/messages"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # how 2.x sends it


def test_the_stream_is_the_apis_event_sequence(server: FakeAnthropicServer) -> None:
    response = httpx.post(
        f"{server.url}/v1/messages",
        headers={"x-api-key": KEY},
        json={"model": MODEL, "max_tokens": 16, "messages": ASK, "stream": True},
    )
    frames = [f for f in response.text.split("\n\n") if f]
    names = [frame.split("\n")[0].removeprefix("event: ") for frame in frames]
    assert names == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert response.headers["content-type"] == "text/event-stream"


def test_tool_use_then_tool_result(client: anthropic.Anthropic) -> None:
    tools = [
        {
            "name": "search",
            "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
        }
    ]
    first = client.messages.create(model=MODEL, max_tokens=16, messages=ASK, tools=tools)
    (call,) = first.content
    assert call.type == "tool_use" and call.name == "search"
    assert call.input == {"query": "hello world"}
    assert first.stop_reason == "tool_use"
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "42"}
    history = [
        *ASK,
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [result]},
    ]
    second = client.messages.create(model=MODEL, max_tokens=16, messages=history, tools=tools)
    assert second.content[0].text == "Tool said: 42"  # type: ignore[union-attr]


def test_streamed_tool_input_arrives_as_json_deltas(client: anthropic.Anthropic) -> None:
    tools = [{"name": "f", "input_schema": {"type": "object", "properties": {"x": {}}}}]
    events = list(
        client.messages.create(model=MODEL, max_tokens=16, messages=ASK, tools=tools, stream=True)
    )
    pieces = [e.delta.partial_json for e in events if e.type == "content_block_delta"]
    assert "".join(pieces) == '{"x": "hello world"}' and len(pieces) == 2


def test_thinking_comes_first_and_is_counted(client: anthropic.Anthropic) -> None:
    reply = client.messages.create(
        model=MODEL,
        max_tokens=2048,
        messages=ASK,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert [b.type for b in reply.content] == ["thinking", "text"]
    assert reply.content[0].thinking == "Thinking about: hello world"  # type: ignore[union-attr]
    assert reply.usage.output_tokens_details is not None
    assert reply.usage.output_tokens_details.thinking_tokens == 4


def test_the_prompt_cache_is_written_once_then_read(client: anthropic.Anthropic) -> None:
    system = [{"type": "text", "text": "a b c d", "cache_control": {"type": "ephemeral"}}]
    first, second = (
        client.messages.create(model=MODEL, max_tokens=16, messages=ASK, system=system).usage
        for _ in range(2)
    )
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (4, 0)
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens) == (0, 4)
    assert first.input_tokens == second.input_tokens == 2


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_errors_have_the_apis_bodies(
    client: anthropic.Anthropic,
    server: FakeAnthropicServer,
    status: int,
    error: type[Exception],
    kind: str,
) -> None:
    server.fail_next(status, "scripted")
    with pytest.raises(error) as raised:
        client.messages.create(model=MODEL, max_tokens=16, messages=ASK)
    body = raised.value.body  # type: ignore[attr-defined]
    assert body["type"] == "error"
    assert body["error"] == {"type": kind, "message": "scripted"}
    assert body["request_id"].startswith("req_")


def test_rate_limit_next_sends_retry_after(
    client: anthropic.Anthropic, server: FakeAnthropicServer
) -> None:
    server.rate_limit_next(retry_after=3)
    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(model=MODEL, max_tokens=16, messages=ASK)
    assert raised.value.response.headers["retry-after"] == "3"
    assert client.messages.create(model=MODEL, max_tokens=16, messages=ASK).content


def test_a_wrong_key_and_a_bad_request_are_refused(server: FakeAnthropicServer) -> None:
    wrong = anthropic.Anthropic(api_key="sk-ant-wrong", base_url=server.base_url, max_retries=0)
    with wrong, pytest.raises(anthropic.AuthenticationError):
        wrong.messages.create(model=MODEL, max_tokens=16, messages=ASK)
    response = httpx.post(
        f"{server.url}/v1/messages",
        headers={"x-api-key": KEY},
        json={"model": MODEL, "messages": ASK},
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "max_tokens: Field required"


def test_error_event_and_malformed_event_mid_stream(
    client: anthropic.Anthropic, server: FakeAnthropicServer
) -> None:
    server.reply_next(error_after=3)
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        list(client.messages.create(model=MODEL, max_tokens=16, messages=ASK, stream=True))
    server.reply_next(malformed_after=3)
    with pytest.raises(ValueError):
        list(client.messages.create(model=MODEL, max_tokens=16, messages=ASK, stream=True))


def test_count_tokens(client: anthropic.Anthropic) -> None:
    assert client.messages.count_tokens(model=MODEL, messages=ASK).input_tokens == 2


def test_vertex_routes(server: FakeAnthropicServer) -> None:
    with anthropic.AnthropicVertex(
        region="us-east5",
        project_id="p",
        access_token=KEY,
        base_url=server.vertex_url,
        max_retries=0,
    ) as vertex:
        reply = vertex.messages.create(
            model="claude-haiku-4-5@20251001", max_tokens=16, messages=ASK
        )
        events = list(
            vertex.messages.create(
                model="claude-haiku-4-5@20251001", max_tokens=16, messages=ASK, stream=True
            )
        )
    assert reply.model == "claude-haiku-4-5@20251001"
    assert events[-1].type == "message_stop"
    assert server.requests[0].path.endswith("claude-haiku-4-5@20251001:rawPredict")
    body = server.requests[0].json()
    assert "anthropic_version" in body and "model" not in body  # the model is in the path
