"""The stand-in Bedrock runtime, driven by the real boto3 and aiobotocore clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EventStreamError
from urllib3.exceptions import ProtocolError

from tracepond.testing.bedrock import DEFAULT_REPLY, FakeBedrockServer, parse_path

USER = [{"role": "user", "content": [{"text": "What is the weather?"}]}]
TOOLS = {
    "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]
}


@pytest.fixture
def server() -> Iterator[FakeBedrockServer]:
    with FakeBedrockServer() as fake:
        yield fake


@pytest.fixture
def client(server: FakeBedrockServer) -> Iterator[Any]:
    bedrock = boto3.client("bedrock-runtime", **server.client_kwargs())
    yield bedrock
    bedrock.close()


def test_converse_answers_text_and_usage(server: FakeBedrockServer, client: Any) -> None:
    response = client.converse(modelId="anthropic.claude-3-haiku-20240307-v1:0", messages=USER)
    assert response["output"]["message"]["content"] == [{"text": DEFAULT_REPLY}]
    assert response["stopReason"] == "end_turn"
    assert response["usage"] == {"inputTokens": 4, "outputTokens": 6, "totalTokens": 10}
    (received,) = server.requests
    assert received.operation == "Converse"
    assert received.json()["messages"] == USER


@pytest.mark.parametrize(
    "model_id",
    [
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
        "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.meta.llama3-2-1b-instruct-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
    ],
)
def test_model_ids_arrive_percent_encoded_and_decode_back(
    server: FakeBedrockServer, client: Any, model_id: str
) -> None:
    client.converse(modelId=model_id, messages=USER)
    (received,) = server.requests
    assert received.model_id == model_id
    assert "%3A" in received.path  # botocore encodes ':' (and '/') in the label


def test_parse_path_rejects_other_paths() -> None:
    assert parse_path("/model/a.b/converse?x=1") == ("Converse", "a.b")
    assert parse_path("/model//converse") is None
    assert parse_path("/guardrail/x/version/1/apply") is None
    assert parse_path("/model/a.b/count-tokens") is None


def test_tool_config_gets_a_tool_use_then_text_after_the_result(client: Any) -> None:
    first = client.converse(modelId="amazon.nova-pro-v1:0", messages=USER, toolConfig=TOOLS)
    assert first["stopReason"] == "tool_use"
    (block,) = first["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "get_weather"
    assert block["toolUse"]["input"] == {"city": "Paris"}
    result = {
        "toolResult": {"toolUseId": block["toolUse"]["toolUseId"], "content": [{"text": "sunny"}]}
    }
    messages = [*USER, first["output"]["message"], {"role": "user", "content": [result]}]
    second = client.converse(modelId="amazon.nova-pro-v1:0", messages=messages, toolConfig=TOOLS)
    assert second["stopReason"] == "end_turn"


def test_cache_point_writes_then_reads(client: Any) -> None:
    system = [{"text": "You are a very careful assistant"}, {"cachePoint": {"type": "default"}}]
    first = client.converse(
        modelId="anthropic.claude-3-5-sonnet-20241022-v2:0", messages=USER, system=system
    )
    second = client.converse(
        modelId="anthropic.claude-3-5-sonnet-20241022-v2:0", messages=USER, system=system
    )
    assert first["usage"]["cacheWriteInputTokens"] == 6
    assert first["usage"]["cacheReadInputTokens"] == 0
    assert second["usage"]["cacheReadInputTokens"] == 6
    assert second["usage"]["cacheWriteInputTokens"] == 0
    assert second["usage"]["inputTokens"] == 4


def test_guardrail_trace_and_intervention(client: Any) -> None:
    guardrail = {"guardrailIdentifier": "gr-123", "guardrailVersion": "1", "trace": "enabled"}
    ok = client.converse(modelId="amazon.nova-lite-v1:0", messages=USER, guardrailConfig=guardrail)
    assert "gr-123" in ok["trace"]["guardrail"]["inputAssessment"]
    blocked_messages = [{"role": "user", "content": [{"text": "a forbidden topic"}]}]
    blocked = client.converse(
        modelId="amazon.nova-lite-v1:0", messages=blocked_messages, guardrailConfig=guardrail
    )
    assert blocked["stopReason"] == "guardrail_intervened"


def test_max_tokens_truncates(client: Any) -> None:
    response = client.converse(
        modelId="amazon.nova-lite-v1:0", messages=USER, inferenceConfig={"maxTokens": 2}
    )
    assert response["stopReason"] == "max_tokens"
    assert response["output"]["message"]["content"] == [{"text": "Hello from"}]


def test_converse_stream_events_rebuild_the_answer(client: Any) -> None:
    response = client.converse_stream(
        modelId="amazon.nova-lite-v1:0", messages=USER, toolConfig=TOOLS
    )
    events = list(response["stream"])
    kinds = [next(iter(event)) for event in events]
    assert kinds == [
        "messageStart",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    arguments = "".join(
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e
    )
    assert json.loads(arguments) == {"city": "Paris"}
    assert events[-1]["metadata"]["usage"]["inputTokens"] == 4


FAMILIES = {
    "anthropic.claude-3-haiku-20240307-v1:0": {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "Say hi"}],
    },
    "amazon.nova-micro-v1:0": {
        "schemaVersion": "messages-v1",
        "messages": [{"role": "user", "content": [{"text": "Say hi"}]}],
    },
    "amazon.titan-text-express-v1": {
        "inputText": "Say hi",
        "textGenerationConfig": {"maxTokenCount": 50},
    },
    "meta.llama3-8b-instruct-v1:0": {"prompt": "Say hi", "max_gen_len": 50},
    "mistral.mistral-7b-instruct-v0:2": {"prompt": "<s>[INST] Say hi [/INST]", "max_tokens": 50},
    "cohere.command-r-v1:0": {"message": "Say hi", "max_tokens": 50},
}


@pytest.mark.parametrize("model_id", sorted(FAMILIES))
def test_invoke_model_per_family_has_body_and_token_headers(client: Any, model_id: str) -> None:
    response = client.invoke_model(modelId=model_id, body=json.dumps(FAMILIES[model_id]))
    body = json.loads(response["body"].read())
    assert DEFAULT_REPLY in json.dumps(body)
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) == 6
    assert int(headers["x-amzn-bedrock-input-token-count"]) >= 2


@pytest.mark.parametrize("model_id", sorted(FAMILIES))
def test_invoke_stream_per_family_ends_with_invocation_metrics(client: Any, model_id: str) -> None:
    response = client.invoke_model_with_response_stream(
        modelId=model_id, body=json.dumps(FAMILIES[model_id])
    )
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    assert len(chunks) > 2
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 6
    assert response["contentType"] == "application/json"


def test_http_errors_are_typed_aws_errors(server: FakeBedrockServer, client: Any) -> None:
    server.fail_next(429, "ThrottlingException", "Too many tokens")
    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        client.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
    assert caught.value.response["Error"]["Message"] == "Too many tokens"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    with pytest.raises(client.exceptions.ValidationException, match="conversation must start"):
        client.converse(modelId="amazon.nova-lite-v1:0", messages=[])
    with pytest.raises(client.exceptions.ValidationException, match="model identifier is invalid"):
        client.invoke_model(modelId="unknown.model-v1", body=b"{}")
    with pytest.raises(ClientError):
        client.invoke_model(modelId="amazon.nova-lite-v1:0", body=b"not json")


def test_stream_exception_event_mid_stream(server: FakeBedrockServer, client: Any) -> None:
    server.stream_error_next("throttlingException", "Slow down", after_events=2)
    response = client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=USER)
    seen = []
    with pytest.raises(EventStreamError, match="Slow down"):
        for event in response["stream"]:
            seen.append(event)
    response["stream"].close()  # botocore leaves the connection to the caller after an error
    assert len(seen) == 2


def test_dropped_connection_mid_stream(server: FakeBedrockServer, client: Any) -> None:
    server.drop_next(after_events=1)
    response = client.invoke_model_with_response_stream(
        modelId="meta.llama3-8b-instruct-v1:0", body=json.dumps({"prompt": "hi"})
    )
    with pytest.raises(ProtocolError):
        list(response["body"])
    response["body"].close()
    # the server keeps serving after a cut connection
    assert (
        client.converse(modelId="amazon.nova-lite-v1:0", messages=USER)["stopReason"] == "end_turn"
    )


def test_request_log_keeps_what_was_sent(server: FakeBedrockServer, client: Any) -> None:
    client.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
    (received,) = server.requests
    assert "AKIDFAKEBEDROCK0000" in received.headers["Authorization"]
    assert received.headers["Content-Type"] == "application/json"


async def test_aiobotocore_client_streams_from_the_server(server: FakeBedrockServer) -> None:
    from aiobotocore.session import get_session

    async with get_session().create_client("bedrock-runtime", **server.client_kwargs()) as aclient:
        response = await aclient.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
        assert response["output"]["message"]["content"] == [{"text": DEFAULT_REPLY}]
        stream = await aclient.converse_stream(modelId="amazon.nova-lite-v1:0", messages=USER)
        kinds = [next(iter(event)) async for event in stream["stream"]]
        assert kinds[0] == "messageStart" and kinds[-1] == "metadata"
