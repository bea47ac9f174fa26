"""The fast JSON path of autolog's content gives exactly what tracepond's serializer gives."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion

from tracepond.autolog.content import encode_json
from tracepond.tracing import serialize

COMPLETION = ChatCompletion.model_validate(
    {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
)

SAME_AS_SERIALIZER: list[Any] = [
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "héllo ✓"}], "n": 2},
    [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "x" * 500}],
            "finish_reason": "stop",
        }
    ],
    {"nested": {"deeper": [1, 2.5, None, True, "s"]}, "max_tokens": 10, "input_tokens": 3},
    # below: what the fast path must hand to the full walk, which redacts, drops or truncates
    {"api_key": "not-a-real-one", "model": "m"},
    {"extra_headers": {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz"}},
    {"text": "my key is sk-abcdefghijklmnopqrstuvwxyz123456"},
    {"text": "Bearer\nabcdefghijklmnopqrstuvwxyz"},
    {"big": "y" * 5000},
    {"model": "m", "temperature": openai.NOT_GIVEN, "stop": openai.omit},
    {"when": 1 << 70},
]


@pytest.mark.parametrize("value", SAME_AS_SERIALIZER)
def test_fast_path_text_equals_the_serializer(value: Any) -> None:
    assert encode_json(value, 1024) == serialize.encode(value, 1024)


def test_pydantic_response_equals_the_serializer_of_its_dump() -> None:
    text, truncated = encode_json(COMPLETION, 65536)
    assert not truncated
    assert text == serialize.encode(COMPLETION.model_dump(mode="json"), 65536)[0]


def test_a_credential_sends_the_value_down_the_walk_that_redacts_it() -> None:
    for value in (
        {"note": "connect to postgres://app:hunter2-pass@db/app"},
        {"cmd": "export aws_secret_access_key=wJalrXUtnFEMI/K7MDENG"},
        {"k": "Bearer abcdefghijklmnopqrstuvwxyz"},
    ):
        text, _ = encode_json(value, 65536)
        assert text == serialize.encode(value, 65536)[0]
        assert "hunter2" not in text and "wJalr" not in text and "abcdefghijklmnop" not in text
    plain = {"max_tokens": 10, "messages": [{"role": "user", "content": "count tokens: 5"}]}
    assert encode_json(plain, 65536)[0] == serialize.encode(plain, 65536)[0]
