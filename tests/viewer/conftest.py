"""A store with traces worth looking at, written through the store's public write API.

Spans come from a plain OpenTelemetry SDK tracer (as any instrumented app makes them) and are
written with ``tracepond.store.writer.write_spans``; the in-progress trace goes through
``write_batch(starts=...)`` as the DuckDB span processor does when a root span starts.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tracepond.conventions import attributes as attr
from tracepond.store.rows import trace_start
from tracepond.store.writer import write_batch, write_spans
from tracepond.viewer.server import create_app

XSS_NAME = '<img src=x onerror="window.__xss=1">'
XSS_OUTPUT = '<script>window.__xss=2</script><img src=x onerror="window.__xss=3">'
SECOND = 1_000_000_000


@dataclass
class SampleStore:
    path: str
    ids: dict[str, str] = field(default_factory=dict)  # label -> trace id
    span_ids: dict[str, str] = field(default_factory=dict)  # label -> span id


def _messages(*items: dict[str, Any]) -> str:
    return json.dumps(list(items))


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def build_sample_store(path: str) -> SampleStore:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "viewer-tests"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.viewer")
    sample = SampleStore(path)
    now = time.time_ns() - 600 * SECOND

    # 1. a chat turn with a tool call, in session s1
    root = tracer.start_span(
        "answer question",
        start_time=now,
        attributes={
            attr.SPAN_TYPE: "CHAIN",
            attr.SESSION_ID: "s1",
            attr.USER_ID: "u1",
            attr.TAGS: json.dumps({"env": "test"}),
            attr.INPUTS: json.dumps(
                {"messages": [{"role": "user", "content": "What is the weather in Paris?"}]}
            ),
            attr.OUTPUTS: json.dumps("It is sunny in Paris."),
        },
    )
    from opentelemetry import trace as otel_trace

    ctx = otel_trace.set_span_in_context(root)
    chat = tracer.start_span(
        "chat gpt-4o-mini",
        context=ctx,
        start_time=now + SECOND // 10,
        attributes={
            attr.GEN_AI_OPERATION_NAME: "chat",
            attr.GEN_AI_PROVIDER_NAME: "openai",
            attr.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
            attr.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini",
            attr.GEN_AI_USAGE_INPUT_TOKENS: 42,
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: 17,
            attr.COST_USD: 0.0021,
            attr.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps(
                [{"type": "text", "content": "You are a weather bot."}]
            ),
            attr.GEN_AI_INPUT_MESSAGES: _messages(
                {
                    "role": "user",
                    "parts": [{"type": "text", "content": "What is the weather in Paris?"}],
                }
            ),
            attr.GEN_AI_OUTPUT_MESSAGES: _messages(
                {
                    "role": "assistant",
                    "finish_reason": "tool_calls",
                    "parts": [
                        {
                            "type": "tool_call",
                            "id": "call_1",
                            "name": "get_weather",
                            "arguments": {"city": "Paris"},
                        }
                    ],
                }
            ),
        },
    )
    chat.end(end_time=now + SECOND // 2)
    tool = tracer.start_span(
        "get_weather",
        context=ctx,
        start_time=now + SECOND // 2,
        attributes={
            attr.SPAN_TYPE: "TOOL",
            attr.INPUTS: json.dumps({"city": "Paris"}),
            attr.OUTPUTS: json.dumps({"sky": "sunny"}),
        },
    )
    tool.end(end_time=now + SECOND * 6 // 10)
    chat2 = tracer.start_span(
        "chat gpt-4o-mini",
        context=ctx,
        start_time=now + SECOND * 6 // 10,
        attributes={
            attr.GEN_AI_OPERATION_NAME: "chat",
            attr.GEN_AI_PROVIDER_NAME: "openai",
            attr.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini",
            attr.GEN_AI_USAGE_INPUT_TOKENS: 60,
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: 9,
            attr.COST_USD: 0.0011,
            attr.GEN_AI_INPUT_MESSAGES: _messages(
                {
                    "role": "user",
                    "parts": [{"type": "text", "content": "What is the weather in Paris?"}],
                },
                {
                    "role": "tool",
                    "parts": [
                        {"type": "tool_call_response", "id": "call_1", "response": {"sky": "sunny"}}
                    ],
                },
            ),
            attr.GEN_AI_OUTPUT_MESSAGES: _messages(
                {
                    "role": "assistant",
                    "finish_reason": "stop",
                    "parts": [{"type": "text", "content": "It is sunny in Paris."}],
                }
            ),
        },
    )
    chat2.end(end_time=now + SECOND * 9 // 10)
    root.set_status(Status(StatusCode.OK))
    root.end(end_time=now + SECOND)
    sample.ids["chat"] = _hex(root.context.trace_id, 32)
    sample.span_ids["chat"] = _hex(chat.context.span_id, 16)
    sample.span_ids["root"] = _hex(root.context.span_id, 16)

    # 2. a failed call with an exception, second turn of session s1, another model
    failed = tracer.start_span(
        "summarize",
        start_time=now + 60 * SECOND,
        attributes={
            attr.SPAN_TYPE: "CHAIN",
            attr.SESSION_ID: "s1",
            attr.USER_ID: "u1",
            attr.INPUTS: json.dumps({"messages": [{"role": "user", "content": "Summarize it"}]}),
        },
    )
    fctx = otel_trace.set_span_in_context(failed)
    bad = tracer.start_span(
        "chat gpt-4o",
        context=fctx,
        start_time=now + 61 * SECOND,
        attributes={
            attr.GEN_AI_OPERATION_NAME: "chat",
            attr.GEN_AI_PROVIDER_NAME: "openai",
            attr.GEN_AI_REQUEST_MODEL: "gpt-4o",
            attr.ERROR_TYPE: "RateLimitError",
        },
    )
    try:
        raise RuntimeError("rate limited by provider")
    except RuntimeError as exc:
        bad.record_exception(exc)
        bad.set_status(Status(StatusCode.ERROR, "rate limited by provider"))
    bad.end(end_time=now + 62 * SECOND)
    failed.set_status(Status(StatusCode.ERROR, "rate limited by provider"))
    failed.end(end_time=now + 62 * SECOND)
    sample.ids["error"] = _hex(failed.context.trace_id, 32)
    sample.span_ids["error"] = _hex(bad.context.span_id, 16)

    # 3. hostile content: must show as text everywhere
    xss = tracer.start_span(
        XSS_NAME,
        start_time=now + 120 * SECOND,
        attributes={
            attr.SPAN_TYPE: "CHAT_MODEL",
            attr.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini",
            attr.USER_ID: "<b>u2</b>",
            attr.INPUTS: json.dumps({"prompt": XSS_OUTPUT}),
            attr.OUTPUTS: json.dumps(XSS_OUTPUT),
            attr.GEN_AI_INPUT_MESSAGES: _messages(
                {"role": "user", "parts": [{"type": "text", "content": XSS_OUTPUT}]}
            ),
            attr.GEN_AI_OUTPUT_MESSAGES: _messages(
                {"role": "assistant", "parts": [{"type": "text", "content": XSS_OUTPUT}]}
            ),
        },
    )
    xss.set_status(Status(StatusCode.OK))
    xss.end(end_time=now + 121 * SECOND)
    sample.ids["xss"] = _hex(xss.context.trace_id, 32)

    write_spans(path, exporter.get_finished_spans())

    # 4. a trace still running: its root started and has not ended
    running = tracer.start_span(
        "long job", start_time=now + 180 * SECOND, attributes={attr.SPAN_TYPE: "AGENT"}
    )
    write_batch(path, [], starts=[trace_start(running)])  # type: ignore[arg-type]
    sample.ids["running"] = _hex(running.context.trace_id, 32)
    return sample


@pytest.fixture
def sample_store(tmp_path: Path) -> SampleStore:
    return build_sample_store(str(tmp_path / "viewer.duckdb"))


@pytest.fixture
async def client(sample_store: SampleStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sample_store.path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:5000") as c:
        yield c


@pytest.fixture
def artifacts() -> Iterator[Path]:
    folder = Path(__file__).resolve().parents[2] / "test-artifacts"
    folder.mkdir(exist_ok=True)
    yield folder
