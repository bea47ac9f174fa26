"""What a Gemini span records beyond the basics: function calls, system instructions, safety
blocks, cached and thinking tokens and their cost, embeddings, Vertex AI, and content kept out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.genai import types
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tests.autolog.gemini_helpers import (
    AIOHTTP_WARNING,
    MODEL,
    attributes,
    client_for,
    content,
    one_span,
)
from tracepond.testing.gemini import FakeGeminiServer

pytestmark = pytest.mark.filterwarnings(AIOHTTP_WARNING)

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="The weather in a city.",
    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
)


@pytest.fixture
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as fake:
        yield fake


@pytest.fixture
def traced(spans: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    tracepond.autolog(providers=["gemini"])
    yield spans
    tracepond.autolog(disable=True)


def test_function_call_declared_called_and_answered(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    with client_for(gemini) as client:
        first = client.models.generate_content(model=MODEL, contents="Paris", config=config)
        call = first.function_calls[0] if first.function_calls else None
        assert call is not None and call.args == {"city": "Paris"}
        history = [
            types.Content(role="user", parts=[types.Part(text="Paris")]),
            first.candidates[0].content if first.candidates else None,
            types.Content(
                role="user",
                parts=[types.Part.from_function_response(name="get_weather", response={"t": 21})],
            ),
        ]
        client.models.generate_content(model=MODEL, contents=history, config=config)
    asked, answered = traced.get_finished_spans()
    assert content(asked, "gen_ai.tool.definitions") == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    (message,) = content(asked, "gen_ai.output.messages")
    assert message == {
        "role": "assistant",
        "parts": [
            {"type": "tool_call", "id": None, "name": "get_weather", "arguments": {"city": "Paris"}}
        ],
        "finish_reason": "tool_call",
    }
    assert attributes(asked)["gen_ai.response.finish_reasons"] == ("stop",)
    turns = content(answered, "gen_ai.input.messages")
    assert [t["role"] for t in turns] == ["user", "assistant", "tool"]
    assert turns[2]["parts"] == [
        {"type": "tool_call_response", "id": None, "name": "get_weather", "response": {"t": 21}}
    ]
    (reply,) = content(answered, "gen_ai.output.messages")
    assert reply["parts"] == [{"type": "text", "content": 'Tool said: {"t": 21}'}]


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_automatic_function_calling_is_one_span_per_request(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    with client_for(gemini) as client:
        reply = client.models.generate_content(
            model=MODEL, contents="Paris", config={"tools": [get_weather]}
        )
    assert reply.text == 'Tool said: {"result": "sunny in Paris"}'
    assert len(gemini.requests) == 2
    asked, answered = traced.get_finished_spans()
    assert content(asked, "gen_ai.tool.definitions") == [
        {"type": "function", "name": "get_weather", "description": "The weather in a city."}
    ]
    assert content(asked, "gen_ai.output.messages")[0]["finish_reason"] == "tool_call"
    assert [t["role"] for t in content(answered, "gen_ai.input.messages")] == [
        "user",
        "assistant",
        "tool",
    ]
    # each request has its own usage, so the cost of both is counted
    for span in (asked, answered):
        assert attributes(span)["gen_ai.usage.input_tokens"] >= 1
        assert attributes(span)["tracepond.cost.usd"] > 0


def test_system_instruction_as_content_and_parts(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    instruction = types.Content(parts=[types.Part(text="Be brief."), types.Part(text="Be kind.")])
    with client_for(gemini) as client:
        client.models.generate_content(
            model=MODEL,
            contents=[types.Part(text="a"), "b"],  # loose parts make one user turn
            config=types.GenerateContentConfig(system_instruction=instruction),
        )
    span = one_span(traced)
    assert content(span, "gen_ai.system_instructions") == [
        {"type": "text", "content": "Be brief."},
        {"type": "text", "content": "Be kind."},
    ]
    assert content(span, "gen_ai.input.messages") == [
        {
            "role": "user",
            "parts": [{"type": "text", "content": "a"}, {"type": "text", "content": "b"}],
        }
    ]


def test_a_candidate_stopped_for_safety_is_ok_with_its_finish_reason(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    gemini.reply_next(finish_reason="SAFETY")
    with client_for(gemini) as client:
        reply = client.models.generate_content(model=MODEL, contents="something risky")
    assert reply.candidates and reply.candidates[0].finish_reason == types.FinishReason.SAFETY
    span = one_span(traced)
    a = attributes(span)
    assert span.status.status_code == StatusCode.OK
    assert a["gen_ai.response.finish_reasons"] == ("safety",)
    assert "error.type" not in a
    assert content(span, "gen_ai.output.messages") == [
        {"role": "assistant", "parts": [], "finish_reason": "content_filter"}
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_a_blocked_prompt_is_an_error_the_caller_does_not_see_raised(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer, stream: bool
) -> None:
    gemini.reply_next(block_reason="PROHIBITED_CONTENT")
    with client_for(gemini) as client:
        if stream:
            chunks = list(client.models.generate_content_stream(model=MODEL, contents="x"))
            feedback = chunks[-1].prompt_feedback
        else:
            reply = client.models.generate_content(model=MODEL, contents="x")
            assert reply.text is None
            feedback = reply.prompt_feedback
    assert feedback is not None and feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    span = one_span(traced)
    a = attributes(span)
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "prompt_blocked: PROHIBITED_CONTENT"
    assert a["error.type"] == "prompt_blocked"
    assert "gen_ai.output.messages" not in a
    assert a["gen_ai.usage.input_tokens"] == 1
    assert content(span, "tracepond.outputs")["prompt_feedback"]["block_reason"] == (
        "PROHIBITED_CONTENT"
    )


@pytest.mark.parametrize("stream", [False, True])
def test_cached_and_thinking_tokens_and_their_cost(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer, stream: bool
) -> None:
    gemini.reply_next("Blue.", thought="Sky colors are short", cached_tokens=3)
    contents = "What color is the sky today"  # 6 words
    with client_for(gemini) as client:
        if stream:
            list(client.models.generate_content_stream(model=MODEL, contents=contents))
        else:
            client.models.generate_content(model=MODEL, contents=contents)
    span = one_span(traced)
    a = attributes(span)
    assert a["gen_ai.usage.input_tokens"] == 6
    assert a["gen_ai.usage.cache_read.input_tokens"] == 3
    assert a["gen_ai.usage.reasoning.output_tokens"] == 4  # thoughts count as output
    assert a["gen_ai.usage.output_tokens"] == 1 + 4
    # gemini-2.5-flash: $0.30/M input, $0.03/M cached input, $2.50/M output
    assert a["tracepond.cost.usd"] == pytest.approx((3 * 0.3 + 3 * 0.03 + 5 * 2.5) / 1e6)
    (message,) = content(span, "gen_ai.output.messages")
    assert message["parts"] == [
        {"type": "reasoning", "content": "Sky colors are short"},
        {"type": "text", "content": "Blue."},
    ]


async def test_embed_content_sync_and_async(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    model = "gemini-embedding-001"
    config = types.EmbedContentConfig(output_dimensionality=16)
    with client_for(gemini) as client:
        reply = client.models.embed_content(
            model=model, contents=["one two", "three"], config=config
        )
        assert reply.embeddings and len(reply.embeddings) == 2
        async with client.aio as aio:
            await aio.models.embed_content(model=model, contents="four", config=config)
    assert gemini.requests[0].path.endswith(":batchEmbedContents")
    for span, tokens in zip(traced.get_finished_spans(), (3, 1), strict=True):
        a = attributes(span)
        assert span.name == f"embeddings {model}"
        assert a["gen_ai.operation.name"] == "embeddings"
        assert a["tracepond.span_type"] == "EMBEDDING"
        assert a["gen_ai.embeddings.dimension.count"] == 16
        assert a["gen_ai.usage.input_tokens"] == tokens
        assert a["tracepond.cost.usd"] == pytest.approx(tokens * 0.15 / 1e6)
        assert "values" not in a["tracepond.outputs"]  # the vectors stay out


def test_a_vertex_ai_client_is_recorded_as_vertex(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    with client_for(gemini, vertexai=True) as client:
        client.models.generate_content(model=MODEL, contents="hi")
        client.models.embed_content(model="gemini-embedding-001", contents="hi")
    assert "publishers/google/models" in gemini.requests[0].path
    chat, embedding = traced.get_finished_spans()
    assert attributes(chat)["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert attributes(chat)["tracepond.cost.source"].startswith("builtin:gemini@")
    assert attributes(embedding)["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert attributes(embedding)["gen_ai.usage.input_tokens"] == 1


def test_inline_bytes_are_summarized_not_stored(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    image = b"\x89PNG" + bytes(range(256)) * 8
    contents = [types.Part.from_bytes(data=image, mime_type="image/png"), "What is this?"]
    with client_for(gemini) as client:
        client.models.generate_content(model=MODEL, contents=contents)
    span = one_span(traced)
    (message,) = content(span, "gen_ai.input.messages")
    blob = message["parts"][0]
    assert blob["type"] == "blob" and blob["mime_type"] == "image/png"
    assert blob["modality"] == "image"
    assert "bytes" in json.dumps(blob["content"])  # a size summary, never the data
    assert len(attributes(span)["gen_ai.input.messages"]) < 1000


def test_capture_content_false_keeps_content_out(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    tracepond.autolog(providers=["gemini"], capture_content=False)
    with client_for(gemini) as client:
        client.models.generate_content(
            model=MODEL, contents="secret plans", config={"system_instruction": "hush"}
        )
        list(client.models.generate_content_stream(model=MODEL, contents="secret plans"))
    for span in spans.get_finished_spans():
        a = attributes(span)
        assert "secret plans" not in str(a) and "hush" not in str(a)
        assert not {"gen_ai.input.messages", "gen_ai.output.messages", "tracepond.inputs"} & set(a)
        assert a["gen_ai.usage.output_tokens"] == 3


def test_spans_land_in_the_store_with_provider_and_cost(
    store_path: Path, gemini: FakeGeminiServer
) -> None:
    tracepond.configure(store=str(store_path))
    tracepond.autolog(providers=["gemini"])
    with client_for(gemini) as client:
        client.models.generate_content(model=MODEL, contents="hello")
    tracepond.flush()
    rows = tracepond.sql(
        "SELECT provider, model, span_type, status, input_tokens, output_tokens, cost_usd "
        "FROM spans"
    ).fetchall()
    assert rows == [("gcp.gemini", MODEL, "CHAT_MODEL", "OK", 1, 2, pytest.approx(5.3e-06))]
    found = tracepond.search_traces(filter=f"span.model = '{MODEL}'")
    assert len(found) == 1


def test_an_unlisted_answered_version_is_priced_as_the_requested_model(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    gemini.reply_next("Hi.", model_version="gemini-2.5-flash-preview-09-2025")
    with client_for(gemini) as client:
        client.models.generate_content(model=MODEL, contents="hello")
    a = attributes(one_span(traced))
    assert a["gen_ai.response.model"] == "gemini-2.5-flash-preview-09-2025"
    assert a["tracepond.cost.usd"] == pytest.approx((1 * 0.3 + 1 * 2.5) / 1e6)


def test_a_model_named_by_its_resource_path_is_priced(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    gemini.reply_next("Hi.", model_version="models/gemini-2.5-pro")
    with client_for(gemini) as client:
        client.models.generate_content(model="models/gemini-2.5-pro", contents="hello")
    a = attributes(one_span(traced))
    assert a["gen_ai.request.model"] == "models/gemini-2.5-pro"
    assert a["tracepond.cost.usd"] == pytest.approx((1 * 1.25 + 1 * 10.0) / 1e6)


@pytest.mark.parametrize("stream", [False, True])
def test_request_parameters_and_several_candidates(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer, stream: bool
) -> None:
    config = types.GenerateContentConfig(
        temperature=0.5,
        top_p=0.9,
        top_k=20,
        seed=7,
        stop_sequences=["END"],
        candidate_count=2,
        response_mime_type="application/json",
        presence_penalty=0.1,
        frequency_penalty=0.2,
    )
    with client_for(gemini) as client:
        if stream:
            list(client.models.generate_content_stream(model=MODEL, contents="two", config=config))
        else:
            reply = client.models.generate_content(model=MODEL, contents="two", config=config)
            assert reply.candidates is not None and len(reply.candidates) == 2
    span = one_span(traced)
    a = attributes(span)
    assert (a["gen_ai.request.temperature"], a["gen_ai.request.top_p"]) == (0.5, 0.9)
    assert (a["gen_ai.request.top_k"], a["gen_ai.request.seed"]) == (20, 7)
    assert a["gen_ai.request.stop_sequences"] == ("END",)
    assert a["gen_ai.request.choice.count"] == 2
    assert a["gen_ai.output.type"] == "json"
    assert a["gen_ai.request.presence_penalty"] == 0.1
    assert a["gen_ai.request.frequency_penalty"] == 0.2
    assert a["gen_ai.response.finish_reasons"] == ("stop", "stop")
    messages = content(span, "gen_ai.output.messages")
    assert [m["parts"] for m in messages] == [[{"type": "text", "content": "Echo: two"}]] * 2
    assert a["gen_ai.usage.output_tokens"] == 4  # both candidates' tokens


async def test_calls_nest_under_the_apps_own_span_sync_and_async(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    with client_for(gemini) as client, tracepond.start_span("answer", span_type="CHAIN"):
        client.models.generate_content(model=MODEL, contents="one")
        list(client.models.generate_content_stream(model=MODEL, contents="two"))
        async with client.aio as aio:
            await aio.models.generate_content(model=MODEL, contents="three")
            async for _chunk in await aio.models.generate_content_stream(
                model=MODEL, contents="four"
            ):
                pass
    *calls, root = traced.get_finished_spans()
    assert root.name == "answer" and len(calls) == 4
    for span in calls:
        assert span.parent is not None and span.parent.span_id == root.context.span_id
        assert span.context.trace_id == root.context.trace_id


def city_of(place: str) -> str:
    """Names the city of a place."""
    return "Paris"


async def test_an_async_chat_with_automatic_function_calling(
    traced: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    async with client_for(gemini).aio as client:
        chat = client.chats.create(model=MODEL, config={"tools": [city_of]})
        reply = await chat.send_message("the Louvre")
    assert reply.text == 'Tool said: {"result": "Paris"}'
    asked, answered = traced.get_finished_spans()
    assert content(asked, "gen_ai.output.messages")[0]["parts"][0]["name"] == "city_of"
    turns = content(answered, "gen_ai.input.messages")
    assert [t["role"] for t in turns] == ["user", "assistant", "tool"]
    assert turns[2]["parts"][0]["response"] == {"result": "Paris"}
