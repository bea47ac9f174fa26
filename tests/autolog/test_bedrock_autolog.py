"""Bedrock autolog with the real boto3 client against the stand-in Bedrock runtime.

Nothing in botocore is stubbed or patched by these tests: every call runs botocore's whole
request path (serialization, signing, HTTP, parsing) against ``FakeBedrockServer``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tracepond.testing.bedrock import DEFAULT_REPLY, FakeBedrockServer

USER = [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}]
WEATHER_TOOL = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Weather of a city",
                "inputSchema": {
                    "json": {"type": "object", "properties": {"city": {"type": "string"}}}
                },
            }
        }
    ]
}


@pytest.fixture
def server() -> Iterator[FakeBedrockServer]:
    with FakeBedrockServer() as fake:
        yield fake


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    tracepond.configure(store=None)
    return span_exporter


@pytest.fixture
def traced() -> Iterator[None]:
    tracepond.autolog(providers=["bedrock"])
    yield
    tracepond.autolog(disable=True)


@pytest.fixture
def client(server: FakeBedrockServer) -> Iterator[Any]:
    bedrock = boto3.client("bedrock-runtime", **server.client_kwargs())
    yield bedrock
    bedrock.close()


def only_span(spans: InMemorySpanExporter) -> ReadableSpan:
    (span,) = spans.get_finished_spans()
    return span


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_converse_span_has_conventions_attributes(
    spans: InMemorySpanExporter, traced: None, client: Any, server: FakeBedrockServer
) -> None:
    client.converse(
        modelId="us.anthropic.claude-3-5-haiku-20241022-v1:0",
        messages=USER,
        system=[{"text": "Answer briefly."}],
        inferenceConfig={
            "maxTokens": 300,
            "temperature": 0.3,
            "topP": 0.9,
            "stopSequences": ["END"],
        },
    )
    span = only_span(spans)
    a = attrs(span)
    assert span.name == "chat us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert span.status.status_code == StatusCode.OK
    assert a["gen_ai.provider.name"] == "aws.bedrock"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["tracepond.span_type"] == "CHAT_MODEL"
    assert a["gen_ai.request.model"] == "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert a["gen_ai.request.max_tokens"] == 300
    assert a["gen_ai.request.temperature"] == 0.3
    assert a["gen_ai.request.top_p"] == 0.9
    assert a["gen_ai.request.stop_sequences"] == ("END",)
    assert a["gen_ai.request.stream"] is False
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == server.port
    assert a["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert a["gen_ai.usage.input_tokens"] == 8  # 6 words of the message + 2 of the system
    assert a["gen_ai.usage.output_tokens"] == 6
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}
    ]
    assert json.loads(a["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Answer briefly."}
    ]
    assert json.loads(a["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": DEFAULT_REPLY}],
            "finish_reason": "end_turn",
        }
    ]
    assert (
        json.loads(a["tracepond.inputs"])["modelId"]
        == "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    )
    assert json.loads(a["tracepond.outputs"])["stopReason"] == "end_turn"


def test_converse_tool_use_and_tool_result(
    spans: InMemorySpanExporter, traced: None, client: Any
) -> None:
    first = client.converse(modelId="amazon.nova-pro-v1:0", messages=USER, toolConfig=WEATHER_TOOL)
    call = first["output"]["message"]["content"][0]["toolUse"]
    result = {"toolResult": {"toolUseId": call["toolUseId"], "content": [{"text": "sunny, 21C"}]}}
    messages = [*USER, first["output"]["message"], {"role": "user", "content": [result]}]
    client.converse(modelId="amazon.nova-pro-v1:0", messages=messages, toolConfig=WEATHER_TOOL)
    first_span, second_span = spans.get_finished_spans()
    a = attrs(first_span)
    assert a["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert json.loads(a["gen_ai.tool.definitions"]) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    (out,) = json.loads(a["gen_ai.output.messages"])
    assert out["parts"] == [
        {
            "type": "tool_call",
            "id": call["toolUseId"],
            "name": "get_weather",
            "arguments": {"city": "Paris"},
        }
    ]
    history = json.loads(attrs(second_span)["gen_ai.input.messages"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    assert history[2]["parts"] == [
        {"type": "tool_call_response", "id": call["toolUseId"], "response": "sunny, 21C"}
    ]


def test_cache_read_and_write_tokens(
    spans: InMemorySpanExporter, traced: None, client: Any
) -> None:
    system = [
        {"text": "You are a meticulous assistant for weather"},
        {"cachePoint": {"type": "default"}},
    ]
    for _ in range(2):
        client.converse(
            modelId="anthropic.claude-3-5-sonnet-20241022-v2:0", messages=USER, system=system
        )
    write, read = (attrs(s) for s in spans.get_finished_spans())
    assert write["gen_ai.usage.cache_creation.input_tokens"] == 7
    assert write["gen_ai.usage.cache_read.input_tokens"] == 0
    assert read["gen_ai.usage.cache_read.input_tokens"] == 7
    assert read["gen_ai.usage.cache_creation.input_tokens"] == 0
    # input tokens count every prompt token, cached ones included (as the conventions ask)
    assert write["gen_ai.usage.input_tokens"] == read["gen_ai.usage.input_tokens"] == 13


def test_guardrail_id_recorded(spans: InMemorySpanExporter, traced: None, client: Any) -> None:
    guardrail = {"guardrailIdentifier": "gr-abc123", "guardrailVersion": "1", "trace": "enabled"}
    blocked = [{"role": "user", "content": [{"text": "tell me a forbidden thing"}]}]
    response = client.converse(
        modelId="amazon.nova-lite-v1:0", messages=blocked, guardrailConfig=guardrail
    )
    assert response["stopReason"] == "guardrail_intervened"
    a = attrs(only_span(spans))
    assert a["aws.bedrock.guardrail.id"] == "gr-abc123"
    assert a["gen_ai.response.finish_reasons"] == ("guardrail_intervened",)


@pytest.mark.parametrize(
    ("model_id", "recorded"),
    [
        ("eu.meta.llama3-2-1b-instruct-v1:0", "eu.meta.llama3-2-1b-instruct-v1:0"),
        ("apac.amazon.nova-micro-v1:0", "apac.amazon.nova-micro-v1:0"),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
            "amazon.nova-lite-v1:0",
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4",
            "a1b2c3d4",
        ),
    ],
)
def test_model_from_profiles_and_arns(
    spans: InMemorySpanExporter, traced: None, client: Any, model_id: str, recorded: str
) -> None:
    client.converse(modelId=model_id, messages=USER)
    span = only_span(spans)
    assert attrs(span)["gen_ai.request.model"] == recorded
    assert span.name == f"chat {recorded}"
    assert json.loads(attrs(span)["tracepond.inputs"])["modelId"] == model_id


def test_http_error_is_recorded_and_reraised_unchanged(
    spans: InMemorySpanExporter, traced: None, client: Any, server: FakeBedrockServer
) -> None:
    server.fail_next(429, "ThrottlingException", "Too many tokens, slow down")
    with pytest.raises(client.exceptions.ThrottlingException, match="slow down"):
        client.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
    span = only_span(spans)
    a = attrs(span)
    assert span.status.status_code == StatusCode.ERROR
    assert a["error.type"] == "ThrottlingException"
    assert a["http.response.status_code"] == 429
    assert json.loads(a["gen_ai.input.messages"])[0]["role"] == "user"
    (event,) = span.events
    assert event.name == "exception"
    assert "slow down" in str((event.attributes or {})["exception.message"])


def test_validation_error(spans: InMemorySpanExporter, traced: None, client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException):
        client.converse(modelId="amazon.nova-lite-v1:0", messages=[])
    span = only_span(spans)
    assert attrs(span)["error.type"] == "ValidationException"
    assert attrs(span)["http.response.status_code"] == 400


def test_clients_created_before_and_after_autolog_are_traced(
    spans: InMemorySpanExporter, server: FakeBedrockServer
) -> None:
    before = boto3.client("bedrock-runtime", **server.client_kwargs())
    tracepond.autolog(providers=["bedrock"])
    try:
        after = boto3.client("bedrock-runtime", **server.client_kwargs())
        before.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
        after.converse(modelId="amazon.nova-micro-v1:0", messages=USER)
    finally:
        tracepond.autolog(disable=True)
    before.converse(modelId="amazon.nova-pro-v1:0", messages=USER)  # after disable: untraced
    assert [s.name for s in spans.get_finished_spans()] == [
        "chat amazon.nova-lite-v1:0",
        "chat amazon.nova-micro-v1:0",
    ]
    before.close()
    after.close()


def test_other_aws_clients_and_bedrock_operations_are_not_traced(
    spans: InMemorySpanExporter, traced: None, server: FakeBedrockServer
) -> None:
    sts = boto3.client("sts", **server.client_kwargs())
    with pytest.raises(Exception):  # noqa: B017 - the stand-in does not speak STS; any error
        sts.get_caller_identity()
    bedrock = boto3.client("bedrock-runtime", **server.client_kwargs())
    with pytest.raises(Exception):  # noqa: B017 - ApplyGuardrail is not served (404)
        bedrock.apply_guardrail(
            guardrailIdentifier="g",
            guardrailVersion="1",
            source="INPUT",
            content=[{"text": {"text": "x"}}],
        )
    assert spans.get_finished_spans() == ()
    sts.close()
    bedrock.close()


def test_capture_content_false_keeps_content_out(spans: InMemorySpanExporter, client: Any) -> None:
    tracepond.autolog(providers=["bedrock"], capture_content=False)
    try:
        client.converse(
            modelId="amazon.nova-lite-v1:0", messages=USER, system=[{"text": "secret plan"}]
        )
    finally:
        tracepond.autolog(disable=True)
    a = attrs(only_span(spans))
    for key in (
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "tracepond.inputs",
        "tracepond.outputs",
    ):
        assert key not in a
    assert a["gen_ai.usage.output_tokens"] == 6


def test_autolog_twice_patches_once(spans: InMemorySpanExporter, client: Any) -> None:
    tracepond.autolog(providers=["bedrock"])
    tracepond.autolog(providers=["bedrock"])
    try:
        client.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
    finally:
        tracepond.autolog(disable=True)
    assert len(spans.get_finished_spans()) == 1


# --- invoke_model ---------------------------------------------------------------------------

FAMILY_BODIES: dict[str, dict[str, Any]] = {
    "anthropic.claude-3-haiku-20240307-v1:0": {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "temperature": 0.5,
        "system": "Be short.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hi please"}]}],
    },
    "us.amazon.nova-lite-v1:0": {
        "schemaVersion": "messages-v1",
        "system": [{"text": "Be short."}],
        "messages": [{"role": "user", "content": [{"text": "Say hi please"}]}],
        "inferenceConfig": {"maxTokens": 64, "temperature": 0.5},
    },
    "amazon.titan-text-express-v1": {
        "inputText": "Say hi please",
        "textGenerationConfig": {"maxTokenCount": 64, "temperature": 0.5},
    },
    "meta.llama3-8b-instruct-v1:0": {
        "prompt": "Say hi please",
        "max_gen_len": 64,
        "temperature": 0.5,
    },
    "mistral.mistral-7b-instruct-v0:2": {
        "prompt": "Say hi please",
        "max_tokens": 64,
        "temperature": 0.5,
    },
    "cohere.command-r-v1:0": {
        "message": "Say hi please",
        "preamble": "Be short.",
        "max_tokens": 64,
        "temperature": 0.5,
    },
}
# Which families carry usage in the body; the others' usage comes from the response headers.
USAGE_FROM = {
    "anthropic.claude-3-haiku-20240307-v1:0": "provider",
    "us.amazon.nova-lite-v1:0": "provider",
    "amazon.titan-text-express-v1": "provider",
    "meta.llama3-8b-instruct-v1:0": "provider",
    "mistral.mistral-7b-instruct-v0:2": "headers",
    "cohere.command-r-v1:0": "provider",
}


@pytest.mark.parametrize("model_id", sorted(FAMILY_BODIES))
def test_invoke_model_each_family(
    spans: InMemorySpanExporter, traced: None, client: Any, model_id: str
) -> None:
    response = client.invoke_model(modelId=model_id, body=json.dumps(FAMILY_BODIES[model_id]))
    assert DEFAULT_REPLY in response["body"].read().decode()
    a = attrs(only_span(spans))
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.request.temperature"] == 0.5
    messages = json.loads(a["gen_ai.input.messages"])
    assert messages[-1] == {"role": "user", "parts": [{"type": "text", "content": "Say hi please"}]}
    (out,) = json.loads(a["gen_ai.output.messages"])
    assert out["parts"] == [{"type": "text", "content": DEFAULT_REPLY}]
    assert a["gen_ai.usage.output_tokens"] == 6
    assert a["gen_ai.usage.input_tokens"] >= 3
    assert a["tracepond.usage.source"] == USAGE_FROM[model_id]
    if "preamble" in FAMILY_BODIES[model_id] or "system" in FAMILY_BODIES[model_id]:
        assert json.loads(a["gen_ai.system_instructions"]) == [
            {"type": "text", "content": "Be short."}
        ]


@pytest.mark.parametrize("model_id", sorted(FAMILY_BODIES))
def test_invoke_model_stream_each_family(
    spans: InMemorySpanExporter, traced: None, client: Any, model_id: str
) -> None:
    response = client.invoke_model_with_response_stream(
        modelId=model_id, body=json.dumps(FAMILY_BODIES[model_id])
    )
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    assert len(chunks) > 3
    a = attrs(only_span(spans))
    assert a["gen_ai.request.stream"] is True
    assert a["tracepond.stream.outcome"] == "complete"
    (out,) = json.loads(a["gen_ai.output.messages"])
    assert out["parts"] == [{"type": "text", "content": DEFAULT_REPLY}]
    assert a["gen_ai.usage.output_tokens"] == 6
    assert "gen_ai.response.time_to_first_chunk" in a


@pytest.mark.parametrize("reader", ["read", "read_amounts", "iter_lines", "iter_chunks"])
def test_invoke_body_reads_exactly_as_untraced(server: FakeBedrockServer, reader: str) -> None:
    body = json.dumps(FAMILY_BODIES["meta.llama3-8b-instruct-v1:0"])
    server.reply = "line one\nline two\nline three"

    def read_with(client: Any) -> tuple[type, list[bytes]]:
        response = client.invoke_model(modelId="meta.llama3-8b-instruct-v1:0", body=body)
        stream = response["body"]
        if reader == "read":
            parts = [stream.read()]
        elif reader == "read_amounts":
            parts = [stream.read(5), stream.read(7), stream.read(), stream.read()]
        elif reader == "iter_lines":
            parts = list(stream.iter_lines())
        else:
            parts = list(stream.iter_chunks(chunk_size=16))
        return type(stream), parts

    client = boto3.client("bedrock-runtime", **server.client_kwargs())
    untraced = read_with(client)
    tracepond.autolog(providers=["bedrock"])
    try:
        traced_result = read_with(client)
    finally:
        tracepond.autolog(disable=True)
    client.close()
    assert traced_result == untraced
    assert untraced[0] is StreamingBody


def test_invoke_model_with_file_like_body_is_sent_untouched(
    spans: InMemorySpanExporter, traced: None, client: Any, server: FakeBedrockServer
) -> None:
    import io

    payload = json.dumps(FAMILY_BODIES["meta.llama3-8b-instruct-v1:0"]).encode()
    client.invoke_model(modelId="meta.llama3-8b-instruct-v1:0", body=io.BytesIO(payload))
    assert server.requests[-1].body == payload
    a = attrs(only_span(spans))
    assert a["gen_ai.usage.output_tokens"] == 6  # the answer is still read


def test_invoke_model_unknown_profile_guesses_family_from_body(
    spans: InMemorySpanExporter, traced: None, client: Any, server: FakeBedrockServer
) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/llama-profile"
    with pytest.raises(client.exceptions.ValidationException):
        # the stand-in cannot tell the family either: an unknown model id is a ValidationException
        client.invoke_model(
            modelId=arn, body=json.dumps(FAMILY_BODIES["meta.llama3-8b-instruct-v1:0"])
        )
    a = attrs(only_span(spans))
    assert a["gen_ai.request.model"] == "llama-profile"
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say hi please"}]}
    ]


# --- what the caller sees is what it sees untraced ------------------------------------------


def _visible(response: dict[str, Any]) -> dict[str, Any]:
    """A response without what changes from call to call (request id, date)."""
    shown = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if isinstance(shown.get("body"), StreamingBody):
        shown["body"] = shown["body"].read()
    return shown


def _call(client: Any, operation: str, outcome: str, server: FakeBedrockServer) -> Any:
    server.reset()  # tool-call ids restart: both runs get the same answer
    if outcome == "throttled":
        server.fail_next(429, "ThrottlingException", "Rate exceeded")
    try:
        if operation == "converse":
            if outcome == "bad_param":
                return _visible(
                    client.converse(modelId="amazon.nova-lite-v1:0", messages="not a list")
                )
            return _visible(
                client.converse(
                    modelId="amazon.nova-lite-v1:0", messages=USER, toolConfig=WEATHER_TOOL
                )
            )
        body = json.dumps(FAMILY_BODIES["anthropic.claude-3-haiku-20240307-v1:0"])
        if outcome == "bad_param":
            return _visible(client.invoke_model(modelId=42, body=body))
        return _visible(
            client.invoke_model(modelId="anthropic.claude-3-haiku-20240307-v1:0", body=body)
        )
    except Exception as exc:
        return (type(exc), str(exc))


@pytest.mark.parametrize("outcome", ["ok", "throttled", "bad_param"])
@pytest.mark.parametrize("operation", ["converse", "invoke_model"])
def test_caller_sees_the_same_with_and_without_autolog(
    spans: InMemorySpanExporter,
    client: Any,
    server: FakeBedrockServer,
    operation: str,
    outcome: str,
) -> None:
    untraced = _call(client, operation, outcome, server)
    tracepond.autolog(providers=["bedrock"])
    try:
        traced = _call(client, operation, outcome, server)
    finally:
        tracepond.autolog(disable=True)
    assert traced == untraced
    (span,) = spans.get_finished_spans()
    expected = StatusCode.OK if outcome == "ok" else StatusCode.ERROR
    assert span.status.status_code == expected
    if outcome == "bad_param":  # botocore refused the call before sending it
        assert attrs(span)["error.type"] == "ParamValidationError"
        assert server.requests == []


def test_invoke_body_cut_mid_read_fails_the_same_for_the_caller(
    spans: InMemorySpanExporter, client: Any, server: FakeBedrockServer
) -> None:
    body = json.dumps(FAMILY_BODIES["meta.llama3-8b-instruct-v1:0"])

    def read_cut() -> tuple[type, str]:
        server.drop_next()
        response = client.invoke_model(modelId="meta.llama3-8b-instruct-v1:0", body=body)
        try:
            response["body"].read()
        except Exception as exc:
            response["body"].close()
            return type(exc), str(exc)
        raise AssertionError("the cut body read without an error")

    untraced = read_cut()
    tracepond.autolog(providers=["bedrock"])
    try:
        traced = read_cut()
    finally:
        tracepond.autolog(disable=True)
    assert traced == untraced
    span = only_span(spans)
    assert span.status.status_code == StatusCode.ERROR
    assert attrs(span)["error.type"] == untraced[0].__name__
    # what survives: the request side of the span
    assert (
        json.loads(attrs(span)["gen_ai.input.messages"])[0]["parts"][0]["content"]
        == "Say hi please"
    )
