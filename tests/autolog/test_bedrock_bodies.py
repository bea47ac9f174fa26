"""The pure readers of Bedrock requests and answers (no client, no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tracepond.autolog.bedrock import bodies, families
from tracepond.autolog.bedrock.bodies import ModelRef, Usage


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        (
            "anthropic.claude-3-haiku-20240307-v1:0",
            ModelRef(
                "anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"
            ),
        ),
        (
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
            ModelRef(
                "us.anthropic.claude-3-5-haiku-20241022-v1:0",
                "anthropic.claude-3-5-haiku-20241022-v1:0",
                "us",
            ),
        ),
        (
            "eu.amazon.nova-lite-v1:0",
            ModelRef("eu.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0", "eu"),
        ),
        (
            "apac.meta.llama3-2-1b-instruct-v1:0",
            ModelRef(
                "apac.meta.llama3-2-1b-instruct-v1:0", "meta.llama3-2-1b-instruct-v1:0", "apac"
            ),
        ),
        (
            "global.anthropic.claude-sonnet-4-20250514-v1:0",
            ModelRef(
                "global.anthropic.claude-sonnet-4-20250514-v1:0",
                "anthropic.claude-sonnet-4-20250514-v1:0",
                "global",
            ),
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1",
            ModelRef(
                "amazon.titan-text-express-v1",
                "amazon.titan-text-express-v1",
                None,
                "foundation-model",
            ),
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-8b-instruct-v1:0",
            ModelRef(
                "us.meta.llama3-1-8b-instruct-v1:0",
                "meta.llama3-1-8b-instruct-v1:0",
                "us",
                "inference-profile",
            ),
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
            ModelRef("abc123", None, None, "application-inference-profile"),
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/pm-1",
            ModelRef("pm-1", None, None, "provisioned-model"),
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:weird",
            ModelRef("arn:aws:bedrock:us-east-1:123456789012:weird", None, None, "weird"),
        ),
    ],
)
def test_parse_model_id(model_id: str, expected: ModelRef) -> None:
    assert bodies.parse_model_id(model_id) == expected


@pytest.mark.parametrize(
    ("body", "family"),
    [
        ({"anthropic_version": "x", "messages": []}, "anthropic"),
        ({"schemaVersion": "messages-v1", "messages": []}, "nova"),
        ({"inputText": "hi"}, "titan"),
        ({"prompt": "hi", "max_gen_len": 5}, "llama"),
        ({"message": "hi"}, "cohere"),
        ({"prompt": "hi"}, "mistral"),
        ({"unknown": 1}, None),
        ("not a dict", None),
    ],
)
def test_family_guessed_from_body_when_the_id_does_not_say(body: Any, family: str | None) -> None:
    assert bodies.family_of(ModelRef("abc123", None), body) == family


def test_family_from_id_wins_over_body() -> None:
    ref = bodies.parse_model_id("us.meta.llama3-8b-instruct-v1:0")
    assert bodies.family_of(ref, {"anthropic_version": "x"}) == "llama"


def test_converse_request_reads_every_block_kind() -> None:
    params = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "look"},
                    {"image": {"format": "png", "source": {"bytes": b"\x89PNG..."}}},
                    {"cachePoint": {"type": "default"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "thinking"}}},
                    {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"x": 1}}},
                ],
            },
            {
                "role": "user",
                "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"y": 2}}]}}],
            },
            {"role": "user", "content": [{"guardContent": {"text": {"text": "guarded"}}}]},
        ],
        "system": [{"text": "sys"}, {"cachePoint": {"type": "default"}}],
        "inferenceConfig": {"maxTokens": 5, "stopSequences": ["x"]},
        "additionalModelRequestFields": {"top_k": 40},
        "guardrailConfig": {"guardrailIdentifier": "g1", "guardrailVersion": "DRAFT"},
    }
    request = bodies.converse_request(params)
    assert request.messages == [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "look"},
                {"type": "blob", "modality": "image", "format": "png"},
            ],
        },
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "thinking"},
                {"type": "tool_call", "id": "t1", "name": "f", "arguments": {"x": 1}},
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "t1", "response": {"y": 2}}],
        },
        {"role": "user", "parts": [{"type": "text", "content": "guarded"}]},
    ]
    assert request.system == [{"type": "text", "content": "sys"}]
    assert request.params == {
        "gen_ai.request.max_tokens": 5,
        "gen_ai.request.stop_sequences": ["x"],
        "gen_ai.request.top_k": 40,
    }
    assert request.guardrail_id == "g1"
    assert b"PNG" not in json.dumps(request.messages).encode()  # image bytes stay out


@pytest.mark.parametrize(
    "junk",
    [
        {},
        {"messages": "nope"},
        {"messages": [1, None, {"content": 5}]},
        {"toolConfig": {"tools": [None, {"toolSpec": 3}]}},
        {"system": {"a": 1}},
    ],
)
def test_converse_request_tolerates_odd_shapes(junk: dict[str, Any]) -> None:
    request = bodies.converse_request(junk)
    assert request.tools == []
    assert all(isinstance(m, dict) for m in request.messages)


def test_converse_stream_state_rebuilds_text_tools_and_usage() -> None:
    state = bodies.ConverseStreamState()
    for event in [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "Hel"}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"text": "lo"}, "contentBlockIndex": 0}},
        {
            "contentBlockStart": {
                "start": {"toolUse": {"toolUseId": "t", "name": "f"}},
                "contentBlockIndex": 1,
            }
        },
        {"contentBlockDelta": {"delta": {"toolUse": {"input": '{"a"'}}, "contentBlockIndex": 1}},
        {"contentBlockDelta": {"delta": {"toolUse": {"input": ": 1}"}}, "contentBlockIndex": 1}},
        {"messageStop": {"stopReason": "tool_use"}},
        {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 4, "cacheReadInputTokens": 2}}},
        "ignored",
    ]:
        state.add(event)
    response = state.result()
    assert response.messages == [
        {
            "role": "assistant",
            "finish_reason": "tool_use",
            "parts": [
                {"type": "text", "content": "Hello"},
                {"type": "tool_call", "id": "t", "name": "f", "arguments": {"a": 1}},
            ],
        }
    ]
    assert response.usage == Usage(3, 4, 2, None)
    assert response.usage.total_input == 5


def test_anthropic_bodies() -> None:
    request = families.invoke_request(
        "anthropic",
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 10,
            "top_k": 5,
            "system": [{"type": "text", "text": "sys"}],
            "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "tu", "name": "f", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "tu", "content": "42"}],
                },
            ],
        },
    )
    assert [m["role"] for m in request.messages] == ["user", "assistant", "tool"]
    assert request.tools == [
        {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}
    ]
    assert request.params == {"gen_ai.request.max_tokens": 10, "gen_ai.request.top_k": 5}
    response = families.invoke_response(
        "anthropic",
        {
            "id": "msg_1",
            "model": "claude",
            "stop_reason": "end_turn",
            "content": [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "ok"}],
            "usage": {
                "input_tokens": 3,
                "output_tokens": 2,
                "cache_read_input_tokens": 10,
                "cache_creation_input_tokens": 4,
            },
        },
    )
    assert response.response_id == "msg_1" and response.model == "claude"
    assert response.messages[0]["parts"] == [
        {"type": "reasoning", "content": "hmm"},
        {"type": "text", "content": "ok"},
    ]
    assert response.usage == Usage(3, 2, 10, 4)
    assert response.usage.total_input == 17


def test_nova_invoke_cache_counts_have_their_own_spelling() -> None:
    response = families.invoke_response(
        "nova",
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "x"}]}},
            "stopReason": "end_turn",
            "usage": {
                "inputTokens": 5,
                "outputTokens": 1,
                "cacheReadInputTokenCount": 7,
                "cacheWriteInputTokenCount": 0,
            },
        },
    )
    assert response.usage == Usage(5, 1, 7, 0)
    assert response.finish_reasons == ["end_turn"]


def test_mistral_chat_format_and_cohere_history() -> None:
    chat = families.invoke_response(
        "mistral",
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "yo"},
                    "stop_reason": "stop",
                }
            ]
        },
    )
    assert chat.messages == [
        {"role": "assistant", "parts": [{"type": "text", "content": "yo"}], "finish_reason": "stop"}
    ]
    request = families.invoke_request(
        "cohere",
        {
            "message": "now",
            "chat_history": [
                {"role": "USER", "message": "before"},
                {"role": "CHATBOT", "message": "reply"},
            ],
        },
    )
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]


def test_usage_from_headers() -> None:
    headers = {"x-amzn-bedrock-input-token-count": "12", "x-amzn-bedrock-output-token-count": "3"}
    assert families.usage_from_headers(headers) == Usage(12, 3)
    assert families.usage_from_headers({"x-amzn-bedrock-input-token-count": "n/a"}) == Usage()


def test_invoke_stream_state_falls_back_to_invocation_metrics() -> None:
    state = families.InvokeStreamState("mistral")
    state.add({"outputs": [{"text": "a", "stop_reason": None}]})
    state.add(
        {
            "outputs": [{"text": "b", "stop_reason": "stop"}],
            "amazon-bedrock-invocationMetrics": {"inputTokenCount": 4, "outputTokenCount": 2},
        }
    )
    response = state.result()
    assert response.messages[0]["parts"] == [{"type": "text", "content": "ab"}]
    assert response.usage == Usage(4, 2)


@pytest.mark.parametrize(
    "family", ["anthropic", "nova", "titan", "llama", "mistral", "cohere", None]
)
def test_readers_never_raise_on_junk(family: str | None) -> None:
    for junk in (
        None,
        3,
        "text",
        [],
        {"content": 7, "messages": {"x": 1}, "outputs": "no", "results": [1]},
    ):
        families.invoke_request(family, junk)
        families.invoke_response(family, junk)
        state = families.InvokeStreamState(family)
        state.add(junk)
        state.result()
