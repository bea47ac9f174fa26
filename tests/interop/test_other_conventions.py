"""Apps instrumented by others send their spans to `tracepond ui` and land with model, provider,
tokens, messages and span type filled in.

- OpenInference: the real openinference-instrumentation-openai;
- OpenLLMetry: the real opentelemetry-instrumentation-openai (current gen_ai names);
- the pre-1.36 gen_ai names (gen_ai.system, gen_ai.usage.prompt_tokens, gen_ai.prompt.N.*,
  gen_ai.completion.N.*, and the message events), as older instrumentations recorded them, from
  the real OpenTelemetry SDK.

Each exports over OTLP/HTTP to a viewer on 127.0.0.1, whose ingest goes through the store's one
conversion (tracepond.store.rows with the table in tracepond.conventions.mapping). The provider
calls go to tracepond.testing's OpenAI stand-in with the real openai client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from tracepond.store.query import sql
from tracepond.testing import FakeOpenAIServer

COLUMNS = "name, span_type, provider, model, response_model, input_tokens, output_tokens, inputs, outputs"


def exporting_provider(url: str, service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=url + "/v1/traces")))
    return provider


def rows(store: str) -> dict[str, dict[str, Any]]:
    """The stored spans by name, with JSON columns parsed."""
    result = sql(f"SELECT {COLUMNS} FROM spans ORDER BY start_time", store=store)
    found = {}
    for values in result.fetchall():
        row = dict(zip(COLUMNS.split(", "), values, strict=True))
        for column in ("inputs", "outputs"):
            row[column] = None if row[column] is None else json.loads(row[column])
        found.setdefault(row["name"], []).append(row)
    return found


@contextmanager
def instrumented(instrumentor: Any, url: str, service: str) -> Iterator[None]:
    """Another library's OpenAI instrumentation, exporting to the viewer, for the block."""
    provider = exporting_provider(url, service)
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def openai_calls(server: FakeOpenAIServer) -> None:
    client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    )
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for _chunk in stream:
        pass
    client.embeddings.create(model="text-embedding-3-small", input="hello")


def test_openinference_instrumented_app(viewer: tuple[str, str]) -> None:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    url, store = viewer
    with instrumented(OpenAIInstrumentor(), url, "openinference-app"), FakeOpenAIServer() as server:
        openai_calls(server)
    found = rows(store)
    chat, streamed = found["ChatCompletion"]
    for row in (chat, streamed):
        assert (row["span_type"], row["provider"], row["model"]) == ("LLM", "openai", "gpt-4o-mini")
        assert row["input_tokens"] > 0 and row["output_tokens"] > 0
    assert chat["inputs"]["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]  # input.value: the request as OpenInference recorded it
    assert chat["outputs"]["choices"][0]["message"]["content"] == "Echo: hi"
    assert streamed["inputs"]["messages"] == [{"role": "user", "content": "count"}]
    (embedding,) = found["CreateEmbeddings"]
    assert embedding["span_type"] == "EMBEDDING"
    assert (embedding["provider"], embedding["model"]) == ("openai", "text-embedding-3-small")
    assert embedding["input_tokens"] == 1 and embedding["inputs"]["input"] == "hello"


# opentelemetry-instrumentation-openai 0.62 defines a pydantic model in the v1 style.
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")
def test_openllmetry_instrumented_app(viewer: tuple[str, str]) -> None:
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    url, store = viewer
    with instrumented(OpenAIInstrumentor(), url, "openllmetry-app"), FakeOpenAIServer() as server:
        openai_calls(server)
    found = rows(store)
    chat, streamed = found["openai.chat"]
    for row in (chat, streamed):
        assert row["span_type"] == "CHAT_MODEL"
        assert (row["provider"], row["model"]) == ("openai", "gpt-4o-mini")
        assert row["input_tokens"] > 0 and row["output_tokens"] > 0
    assert [m["role"] for m in chat["inputs"]] == ["system", "user"]  # gen_ai.input.messages
    assert chat["inputs"][1]["parts"][0]["content"] == "hi"
    assert chat["outputs"][0]["parts"][0]["content"] == "Echo: hi"
    (embedding,) = found["openai.embeddings"]
    assert (embedding["span_type"], embedding["model"]) == ("EMBEDDING", "text-embedding-3-small")


def test_pre_1_36_gen_ai_names(viewer: tuple[str, str]) -> None:
    """As OpenLLMetry and others recorded GenAI spans before v1.36 of the conventions."""
    url, store = viewer
    provider = exporting_provider(url, "legacy-app")
    tracer = provider.get_tracer("legacy")
    with tracer.start_as_current_span(
        "openai.chat",
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.system": "openai",
            "llm.request.type": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.prompt_tokens": 12,
            "gen_ai.usage.completion_tokens": 4,
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "be brief",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "hi",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "hello",
            "gen_ai.completion.0.finish_reason": "stop",
        },
    ):
        pass
    with tracer.start_as_current_span(
        "chat claude",
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.system": "aws.bedrock",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-3-haiku",
            "gen_ai.usage.input_tokens": 7,
            "gen_ai.usage.output_tokens": 2,
        },
    ) as span:  # content as the 1.27-1.36 message events, recorded on the span
        span.add_event("gen_ai.system.message", {"content": "be brief"})
        span.add_event("gen_ai.user.message", {"content": "hi"})
        span.add_event("gen_ai.choice", {"index": 0, "message": '{"content": "hey"}'})
    with tracer.start_as_current_span(
        "anthropic.completion",
        attributes={"gen_ai.system": "anthropic", "llm.request.type": "completion"},
    ) as span:  # the older still: one JSON text per side, in gen_ai.content.* events
        span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": '[{"role": "user"}]'})
        span.add_event("gen_ai.content.completion", {"gen_ai.completion": '"done"'})
    provider.shutdown()
    found = rows(store)
    (indexed,) = found["openai.chat"]
    assert indexed["span_type"] == "CHAT_MODEL" and indexed["provider"] == "openai"
    # spans.model is what the caller asked for, spans.response_model what the provider answered
    assert indexed["model"] == "gpt-4o-mini"
    assert indexed["response_model"] == "gpt-4o-mini-2024-07-18"
    assert (indexed["input_tokens"], indexed["output_tokens"]) == (12, 4)
    assert indexed["inputs"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert indexed["outputs"] == [
        {"role": "assistant", "content": "hello", "finish_reason": "stop"}
    ]
    (events,) = found["chat claude"]
    assert (events["provider"], events["model"], events["input_tokens"]) == (
        "aws.bedrock",
        "claude-3-haiku",
        7,
    )
    assert events["inputs"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert events["outputs"] == [{"role": "assistant", "content": '{"content": "hey"}'}]
    (whole,) = found["anthropic.completion"]
    assert whole["span_type"] == "LLM" and whole["provider"] == "anthropic"
    assert (whole["inputs"], whole["outputs"]) == ([{"role": "user"}], "done")


def test_trace_fields_from_openinference_session_and_user(viewer: tuple[str, str]) -> None:
    url, store = viewer
    provider = exporting_provider(url, "sessions")
    with provider.get_tracer("oi").start_as_current_span(
        "agent",
        attributes={"openinference.span.kind": "AGENT", "session.id": "s-1", "user.id": "u-1"},
    ):
        pass
    provider.shutdown()
    result = sql("SELECT span_type, session_id, user_id FROM spans", store=store).fetchall()
    assert result == [("AGENT", "s-1", "u-1")]
    traces = sql("SELECT session_id, user_id FROM traces", store=store).fetchall()
    assert traces == [("s-1", "u-1")]
