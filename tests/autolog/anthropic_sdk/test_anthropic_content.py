"""What an Anthropic call records: tool definitions, tool calls assembled from input_json_delta,
tool results, extended thinking as reasoning, prompt-cache tokens and their cost, media blocks;
streamed and not, through ``create`` and the ``stream()`` helper alike."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.autolog.anthropic_sdk.helpers import MODEL, attributes_of, content, sync_client
from tracepond.testing import FakeAnthropicServer

WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
THINKING = {"type": "enabled", "budget_tokens": 1024}


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def call(server: FakeAnthropicServer, how: str, **kwargs: Any) -> Any:
    """One call made ``how``: "create", "create-stream" or "helper"; returns the Message (or,
    streamed, the helper's final message / the list of events)."""
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("max_tokens", 256)
    with sync_client(server) as client:
        if how == "create":
            return client.messages.create(**kwargs)
        if how == "create-stream":
            return list(client.messages.create(stream=True, **kwargs))
        with client.messages.stream(**kwargs) as stream:
            return stream.get_final_message()


HOWS = ["create", "create-stream", "helper"]


@pytest.mark.parametrize("how", HOWS)
def test_tool_definitions_and_a_tool_call_with_its_arguments(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer, how: str
) -> None:
    call(anthropic_server, how, messages=ask("Paris"), tools=[WEATHER, WEB_SEARCH])
    a = attributes_of(traced)
    assert content(a, "gen_ai.tool.definitions") == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": WEATHER["input_schema"],
        },
        {"type": "web_search_20250305", "name": "web_search"},
    ]
    (message,) = content(a, "gen_ai.output.messages")
    # streamed, the arguments arrive as two input_json_delta halves and are joined here
    assert message == {
        "role": "assistant",
        "parts": [
            {
                "type": "tool_call",
                "id": "toolu_000001",
                "name": "get_weather",
                "arguments": {"city": "Paris"},
            }
        ],
        "finish_reason": "tool_use",
    }
    assert a["gen_ai.response.finish_reasons"] == ("tool_use",)
    outputs = content(a, "tracepond.outputs")
    assert outputs["content"][0]["input"] == {"city": "Paris"}
    assert outputs["stop_reason"] == "tool_use"


def test_the_tool_result_round_trip_sends_sdk_objects_back_and_records_a_tool_message(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    first = call(anthropic_server, "create", messages=ask("Paris"), tools=[WEATHER])
    tool_use = first.content[0]
    history = [
        *ask("Paris"),
        {"role": "assistant", "content": first.content},  # the SDK's own block objects
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": tool_use.id,
                    "content": [{"type": "text", "text": "18C and sunny"}],
                }
            ],
        },
    ]
    second = call(anthropic_server, "create", messages=history, tools=[WEATHER])
    assert second.content[0].text == "Tool said: 18C and sunny"
    spans = traced.get_finished_spans()
    a = dict(spans[-1].attributes or {})
    assert content(a, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Paris"}]},
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": tool_use.id,
                    "name": "get_weather",
                    "arguments": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [
                {"type": "tool_call_response", "id": tool_use.id, "response": "18C and sunny"}
            ],
        },
    ]


@pytest.mark.parametrize("how", HOWS)
def test_extended_thinking_is_recorded_as_reasoning_with_its_tokens(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer, how: str
) -> None:
    call(anthropic_server, how, messages=ask("why is the sky blue"), thinking=THINKING)
    a = attributes_of(traced)
    (message,) = content(a, "gen_ai.output.messages")
    assert message["parts"] == [
        {"type": "reasoning", "content": "Thinking about: why is the sky blue"},
        {"type": "text", "content": "Echo: why is the sky blue"},
    ]
    assert a["gen_ai.usage.reasoning.output_tokens"] == 7
    assert a["gen_ai.usage.output_tokens"] == 13  # thinking included, as Anthropic bills it


def test_a_thinking_block_sent_back_is_reasoning_in_the_input(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    history = [
        *ask("why"),
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Rayleigh", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Scattering."},
            ],
        },
        *ask("more"),
    ]
    call(anthropic_server, "create", messages=history, thinking=THINKING)
    parts = content(attributes_of(traced), "gen_ai.input.messages")[1]["parts"]
    assert parts == [
        {"type": "reasoning", "content": "Rayleigh"},
        {"type": "redacted_thinking"},
        {"type": "text", "content": "Scattering."},
    ]


CACHED_SYSTEM = [
    {"type": "text", "text": "You are a support agent for Acme. " * 10},
    {
        "type": "text",
        "text": "Policies: refunds within thirty days. " * 10,
        "cache_control": {"type": "ephemeral"},
    },
]


@pytest.mark.parametrize("how", HOWS)
def test_prompt_cache_writes_then_reads_are_counted_and_priced(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer, how: str
) -> None:
    for _ in range(2):
        call(anthropic_server, how, messages=ask("Refund?"), system=CACHED_SYSTEM)
    write, read = (dict(span.attributes or {}) for span in traced.get_finished_spans())
    cached = 70 + 50  # the words up to the cache_control block
    for a in (write, read):
        # the conventions' input count includes the cached tokens; Anthropic's excludes them
        assert a["gen_ai.usage.input_tokens"] == cached + 1
    assert write["gen_ai.usage.cache_creation.input_tokens"] == cached
    assert write["gen_ai.usage.cache_read.input_tokens"] == 0
    assert read["gen_ai.usage.cache_read.input_tokens"] == cached
    assert read["gen_ai.usage.cache_creation.input_tokens"] == 0
    output = write["gen_ai.usage.output_tokens"]
    # claude-sonnet-4-5: input 3.0, cache write 3.75, cache read 0.30, output 15.0 per 1M
    assert write["tracepond.cost.usd"] == pytest.approx(
        (1 * 3.0 + cached * 3.75 + output * 15) / 1e6
    )
    assert read["tracepond.cost.usd"] == pytest.approx((1 * 3.0 + cached * 0.3 + output * 15) / 1e6)


def test_images_and_documents_are_recorded_by_kind_and_source(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    blocks = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "document", "source": {"type": "file", "file_id": "file_01"}},
        {"type": "text", "text": "What are these?"},
    ]
    call(anthropic_server, "create", messages=[{"role": "user", "content": blocks}])
    (message,) = content(attributes_of(traced), "gen_ai.input.messages")
    assert message["parts"] == [
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBOR"},
        {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"},
        {"type": "file", "modality": "document", "file_id": "file_01"},
        {"type": "text", "content": "What are these?"},
    ]


def test_a_tool_call_whose_json_breaks_mid_stream_keeps_the_text_that_arrived(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.reply_next(tool_calls=[("get_weather", '{"city": "Par')])
    anthropic_server.drop_next(after_chunks=4)  # cut after the first input_json_delta
    with pytest.raises(Exception):  # noqa: B017 - the transport's own error, whatever its type
        call(anthropic_server, "create-stream", messages=ask("Paris"), tools=[WEATHER])
    (message,) = content(attributes_of(traced), "gen_ai.output.messages")
    (part,) = message["parts"]
    assert part["type"] == "tool_call" and part["name"] == "get_weather"
    assert part["arguments"] == '{"city'  # the first half, unparsable, kept as text


def run_tool_loop(server: FakeAnthropicServer) -> list[Any]:
    """The SDK's own tool runner, with a tool that raises: the runner turns the exception into
    an is_error tool_result and carries on."""
    from anthropic import beta_tool

    @beta_tool
    def get_weather(city: str) -> str:
        """Weather in a city."""
        raise RuntimeError(f"weather service down for {city}")

    server.reset()
    with sync_client(server) as client:
        runner = client.beta.messages.tool_runner(
            model=MODEL, max_tokens=64, tools=[get_weather], messages=ask("Paris")
        )
        return [message.model_dump() for message in runner]


def test_an_exception_inside_a_tool_of_the_sdks_tool_runner(
    spans: InMemorySpanExporter,
    anthropic_server: FakeAnthropicServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import tracepond

    untraced = run_tool_loop(anthropic_server)
    tracepond.autolog(providers=["anthropic"])
    traced = run_tool_loop(anthropic_server)
    assert traced == untraced
    assert "weather service down" in caplog.text  # the SDK logged its tool's failure
    first, second = spans.get_finished_spans()  # one span per model call, none for the tool
    assert first.status.is_ok and second.status.is_ok  # the tool's error is not the call's
    tool_turn = content(dict(second.attributes or {}), "gen_ai.input.messages")[-1]
    assert tool_turn == {
        "role": "tool",
        "parts": [
            {
                "type": "tool_call_response",
                "id": "toolu_000001",
                "response": "RuntimeError('weather service down for Paris')",
            }
        ],
    }
