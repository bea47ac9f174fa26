"""The other ways in: with_raw_response / with_streaming_response, the beta Messages API,
AnthropicBedrock (against FakeBedrockServer) and AnthropicVertex, each recorded with its own
provider name; and switching: autolog() picks anthropic up, a missing package is skipped or
named with its install hint, content capture off, secrets kept out of the store."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tests.autolog.anthropic_sdk.helpers import (
    ASK,
    KEY,
    MODEL,
    async_client,
    attributes_of,
    content,
    sync_client,
)
from tracepond.autolog import patched
from tracepond.testing import FakeAnthropicServer, FakeBedrockServer

ECHO = "Echo: Name a color"


# --- with_raw_response / with_streaming_response ----------------------------------------------


def raw_sync(server: FakeAnthropicServer, mode: str) -> list[Any]:
    server.reset()
    seen: list[Any] = []
    with sync_client(server) as client:
        if mode == "raw":
            raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=8, messages=ASK)
            seen += [raw.__class__.__name__, raw.status_code, raw.parse().model_dump()]
            seen.append(raw.parse() is raw.parse())
        elif mode == "raw-stream":
            raw = client.messages.with_raw_response.create(
                model=MODEL, max_tokens=8, messages=ASK, stream=True
            )
            seen += [raw.status_code, [event.type for event in raw.parse()]]
        elif mode == "streaming":
            with client.messages.with_streaming_response.create(
                model=MODEL, max_tokens=8, messages=ASK
            ) as response:
                seen += [response.status_code, response.parse().model_dump()]
        elif mode == "streaming-stream":
            with client.messages.with_streaming_response.create(
                model=MODEL, max_tokens=8, messages=ASK, stream=True
            ) as response:
                seen.append([event.type for event in response.parse()])
        elif mode == "streaming-bytes":
            with client.messages.with_streaming_response.create(
                model=MODEL, max_tokens=8, messages=ASK
            ) as response:
                seen.append(json.loads(b"".join(response.iter_bytes()))["content"])
    return seen


async def raw_async(server: FakeAnthropicServer, mode: str) -> list[Any]:
    server.reset()
    seen: list[Any] = []
    async with async_client(server) as client:
        if mode == "raw":
            raw = await client.messages.with_raw_response.create(
                model=MODEL, max_tokens=8, messages=ASK
            )
            seen += [raw.__class__.__name__, raw.status_code, (await raw.parse()).model_dump()]
        elif mode == "raw-stream":
            raw = await client.messages.with_raw_response.create(
                model=MODEL, max_tokens=8, messages=ASK, stream=True
            )
            seen += [raw.status_code, [event.type async for event in await raw.parse()]]
        elif mode == "streaming":
            async with client.messages.with_streaming_response.create(
                model=MODEL, max_tokens=8, messages=ASK
            ) as response:
                seen += [response.status_code, (await response.parse()).model_dump()]
        elif mode == "streaming-stream":
            async with client.messages.with_streaming_response.create(
                model=MODEL, max_tokens=8, messages=ASK, stream=True
            ) as response:
                seen.append([event.type async for event in await response.parse()])
        elif mode == "streaming-bytes":
            async with client.messages.with_streaming_response.create(
                model=MODEL, max_tokens=8, messages=ASK
            ) as response:
                data = b"".join([chunk async for chunk in response.iter_bytes()])
                seen.append(json.loads(data)["content"])
    return seen


RAW_MODES = ["raw", "raw-stream", "streaming", "streaming-stream", "streaming-bytes"]


def check_raw(spans: InMemorySpanExporter, mode: str) -> None:
    (span,) = spans.get_finished_spans()
    a = dict(span.attributes or {})
    assert span.status.status_code == StatusCode.OK
    assert "X-Stainless-Raw-Response" not in a.get("tracepond.inputs", "")
    if mode == "streaming-bytes":  # read as bytes: nothing parsed, so no answer recorded
        assert "gen_ai.output.messages" not in a
        return
    (message,) = content(a, "gen_ai.output.messages")
    assert message["parts"] == [{"type": "text", "content": ECHO}]
    assert a["gen_ai.usage.output_tokens"] == 4
    if mode.endswith("stream"):
        assert a["tracepond.stream.outcome"] == "complete"


@pytest.mark.parametrize("mode", RAW_MODES)
def test_sync_raw_responses(
    spans: InMemorySpanExporter, anthropic_server: FakeAnthropicServer, mode: str
) -> None:
    untraced = raw_sync(anthropic_server, mode)
    tracepond.autolog(providers=["anthropic"])
    traced = raw_sync(anthropic_server, mode)
    tracepond.autolog(disable=True)
    assert traced == untraced
    check_raw(spans, mode)


@pytest.mark.parametrize("mode", RAW_MODES)
async def test_async_raw_responses(
    spans: InMemorySpanExporter, anthropic_server: FakeAnthropicServer, mode: str
) -> None:
    untraced = await raw_async(anthropic_server, mode)
    tracepond.autolog(providers=["anthropic"])
    traced = await raw_async(anthropic_server, mode)
    tracepond.autolog(disable=True)
    assert traced == untraced
    check_raw(spans, mode)


# --- the beta Messages API ---------------------------------------------------------------------


def test_beta_messages_create_and_stream_are_traced(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    with sync_client(anthropic_server) as client:
        reply = client.beta.messages.create(
            model=MODEL, max_tokens=8, messages=ASK, betas=["context-1m-2025-08-07"]
        )
        with client.beta.messages.stream(model=MODEL, max_tokens=8, messages=ASK) as stream:
            text = "".join(stream.text_stream)
    assert reply.content[0].text == text == ECHO
    assert anthropic_server.requests[0].headers["anthropic-beta"] == "context-1m-2025-08-07"
    first, second = traced.get_finished_spans()
    for span in (first, second):
        a = dict(span.attributes or {})
        assert span.name == f"chat {MODEL}"
        assert content(a, "gen_ai.output.messages")[0]["parts"][0]["content"] == ECHO
    assert dict(second.attributes or {})["tracepond.stream.outcome"] == "complete"


# --- AnthropicBedrock and AnthropicVertex ------------------------------------------------------

BEDROCK_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_bedrock_is_recorded_as_aws_bedrock_and_priced_from_its_table(
    traced: InMemorySpanExporter, stream: bool
) -> None:
    with FakeBedrockServer() as bedrock:
        client = anthropic.AnthropicBedrock(
            aws_access_key="AKIDEXAMPLE",
            aws_secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            aws_region="us-east-1",
            base_url=bedrock.endpoint_url,
            max_retries=0,
        )
        with client:
            if stream:
                with client.messages.stream(
                    model=BEDROCK_MODEL, max_tokens=32, messages=ASK
                ) as helper:
                    text = helper.get_final_text()
            else:
                text = (
                    client.messages.create(model=BEDROCK_MODEL, max_tokens=32, messages=ASK)
                    .content[0]
                    .text
                )
        operation = bedrock.requests[-1].operation
    assert operation == ("InvokeModelWithResponseStream" if stream else "InvokeModel")
    a = attributes_of(traced)
    assert a["gen_ai.provider.name"] == "aws.bedrock"
    assert a["gen_ai.request.model"] == BEDROCK_MODEL
    assert content(a, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": text}]
    assert a["tracepond.cost.source"].startswith("builtin:bedrock@")
    usage = (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"])
    assert a["tracepond.cost.usd"] == pytest.approx((usage[0] * 0.8 + usage[1] * 4.0) / 1e6)


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_vertex_is_recorded_as_gcp_vertex_ai_without_a_guessed_cost(
    traced: InMemorySpanExporter, stream: bool
) -> None:
    with FakeAnthropicServer() as server:  # Vertex sends a Google access token, not an API key
        await vertex_call(server, stream)
    assert server.requests[-1].path.endswith(
        "/publishers/anthropic/models/claude-sonnet-4@20250514:"
        + ("streamRawPredict" if stream else "rawPredict")
    )
    assert server.requests[-1].headers["authorization"] == "Bearer ya29.vertex-test-token"
    a = attributes_of(traced)
    assert a["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert a["gen_ai.request.model"] == "claude-sonnet-4@20250514"
    assert a["gen_ai.usage.output_tokens"] == 4
    assert "tracepond.cost.usd" not in a  # no built-in Vertex prices: no guessed cost


async def vertex_call(server: FakeAnthropicServer, stream: bool) -> None:
    async with anthropic.AsyncAnthropicVertex(
        region="us-east5",
        project_id="acme-prod",
        access_token="ya29.vertex-test-token",
        base_url=server.vertex_url,
        max_retries=0,
    ) as client:
        result = await client.messages.create(
            model="claude-sonnet-4@20250514", max_tokens=32, messages=ASK, stream=stream
        )
        if stream:
            assert [event.type async for event in result][-1] == "message_stop"


# --- switching -----------------------------------------------------------------------------------


def test_autolog_without_names_patches_anthropic_and_says_what(
    spans: InMemorySpanExporter,
) -> None:
    assert "anthropic" in tracepond.autolog()
    labels = patched()["anthropic"]
    for method in ("Messages.create", "AsyncMessages.stream", "MessageStream.close"):
        assert any(label.endswith(method) for label in labels), method
    assert any("beta" in label for label in labels)


def test_disable_restores_every_original() -> None:
    from anthropic.lib.streaming import MessageStream
    from anthropic.resources.messages import AsyncMessages, Messages

    classes = (Messages, AsyncMessages, MessageStream)
    before = {cls: dict(vars(cls)) for cls in classes}
    tracepond.autolog(providers=["anthropic"])
    assert vars(Messages)["create"] is not before[Messages]["create"]
    tracepond.autolog(disable=True)
    for cls in classes:
        for name in ("create", "parse", "stream", "close"):
            assert vars(cls).get(name) is before[cls].get(name), (cls, name)


BLOCKED = """
import sys
sys.modules["anthropic"] = None  # the package cannot be imported: as if it were not installed
import tracepond
from tracepond.errors import ProviderNotInstalledError
tracepond.configure(store=None)
print(tracepond.autolog())  # not named: skipped quietly
try:
    tracepond.autolog(providers=["anthropic"])
except ProviderNotInstalledError as exc:
    print("raised:", exc)
"""


def test_without_the_package_it_is_skipped_unless_named_then_the_hint() -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(BLOCKED)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr
    skipped, raised = done.stdout.splitlines()
    assert "anthropic" not in skipped and "openai" in skipped
    assert raised.startswith("raised: ")
    assert "'anthropic' package" in raised
    assert 'pip install "tracepond[anthropic]"' in raised


def test_capture_content_false_keeps_content_out(
    spans: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    tracepond.autolog(providers=["anthropic"], capture_content=False)
    with sync_client(anthropic_server) as client:
        client.messages.create(model=MODEL, max_tokens=8, messages=ASK, system="secret plan")
        list(client.messages.create(model=MODEL, max_tokens=8, messages=ASK, stream=True))
        with client.messages.stream(model=MODEL, max_tokens=8, messages=ASK) as stream:
            stream.until_done()
    for span in spans.get_finished_spans():
        a = dict(span.attributes or {})
        assert not {
            k
            for k in a
            if "messages" in k
            or k.startswith("tracepond.in")
            or k.startswith("tracepond.out")
            or "instructions" in k
        }
        assert a["gen_ai.usage.output_tokens"] == 4  # the rest is still recorded


def test_secrets_never_reach_the_store(
    configured: Any, store_path: Path, anthropic_server: FakeAnthropicServer
) -> None:
    tracepond.autolog(providers=["anthropic"])
    with sync_client(anthropic_server) as client:
        client.messages.create(
            model=MODEL, max_tokens=8, messages=ASK, extra_headers={"x-api-key": KEY}
        )
        with client.messages.stream(model=MODEL, max_tokens=8, messages=ASK) as stream:
            stream.until_done()
        anthropic_server.fail_next(401, f"invalid x-api-key {KEY}")
        with pytest.raises(anthropic.AuthenticationError):
            client.messages.create(model=MODEL, max_tokens=8, messages=ASK)
    assert anthropic_server.requests[0].headers["x-api-key"] == KEY  # it was really sent
    assert tracepond.flush()
    rows = tracepond.sql(
        "SELECT provider, model, status, input_tokens, output_tokens, cost_usd FROM spans "
        "ORDER BY start_time",
        store=str(store_path),
    ).fetchall()
    assert [row[:5] for row in rows] == [
        ("anthropic", MODEL, "OK", 3, 4),
        ("anthropic", MODEL, "OK", 3, 4),
        ("anthropic", MODEL, "ERROR", None, None),
    ]
    assert rows[0][5] == pytest.approx((3 * 3.0 + 4 * 15.0) / 1e6)
    tracepond.configure(store=None)  # the writer lets go of the file
    assert b"T0pS3cretAnthropicKey" not in store_path.read_bytes()


GLOBAL_PROVIDER = """
import json, sys
import anthropic
import tracepond
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tracepond.testing import FakeAnthropicServer

app = InMemorySpanExporter()  # the app's own OpenTelemetry pipeline
if sys.argv[1] != "no-otel":
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(app))
    trace.set_tracer_provider(provider)
tracepond.configure(store=None, use_global_provider=sys.argv[1] == "global")
tracepond.autolog(providers=["anthropic"])
with FakeAnthropicServer() as server:
    client = anthropic.Anthropic(api_key="k", base_url=server.base_url, max_retries=0)
    ask = [{"role": "user", "content": "hi"}]
    client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=ask)
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=ask) as s:
        s.until_done()
    sent = [r.headers.get("traceparent") for r in server.requests]
spans = [
    {"scope": s.instrumentation_scope.name, "span_id": format(s.context.span_id, "016x")}
    for s in app.get_finished_spans()
]
print(json.dumps({"spans": spans, "sent": sent}))
"""


def app_pipeline(mode: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", GLOBAL_PROVIDER, mode],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_on_the_apps_global_provider_each_call_is_one_span_not_two() -> None:
    seen = app_pipeline("global")
    # tracepond's spans only: the SDK's own span of each call would be the same call again
    assert [s["scope"] for s in seen["spans"]] == ["tracepond", "tracepond"]
    # the requests still carry the trace: tracepond's span is the parent the server sees
    assert [t.split("-")[2] for t in seen["sent"]] == [s["span_id"] for s in seen["spans"]]


def test_with_its_own_provider_tracepond_leaves_the_sdks_spans_to_the_app() -> None:
    seen = app_pipeline("own")
    assert [s["scope"] for s in seen["spans"]] == ["com.anthropic.sdk.python"] * 2
    assert all(sent for sent in seen["sent"])  # and the SDK propagates its spans, as ever


def test_in_an_app_without_opentelemetry_the_request_goes_out_as_untraced() -> None:
    seen = app_pipeline("no-otel")
    assert seen["spans"] == []
    assert seen["sent"] == [None, None]  # no trace context: untraced, the SDK sends none either


def test_a_streaming_response_left_mid_stream_ends_its_span_once(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    with (
        sync_client(anthropic_server) as client,
        client.messages.with_streaming_response.create(
            model=MODEL, max_tokens=8, messages=ASK, stream=True
        ) as response,
    ):
        for event in response.parse():
            assert event.type == "message_start"
            break
    (span,) = traced.get_finished_spans()
    a = dict(span.attributes or {})
    assert a["tracepond.stream.outcome"] == "stopped"
    assert span.status.status_code == StatusCode.OK
    assert a["gen_ai.response.id"] == "msg_000001"
