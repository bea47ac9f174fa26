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


def test_fast_path_hints_cover_every_credential_shape_the_serializer_knows() -> None:
    from tracepond.autolog.content import _CREDENTIAL_HINT

    serializer_hints = serialize._SECRET_HINT.pattern.split("|")  # read only, to stay in step
    assert set(serializer_hints) <= set(_CREDENTIAL_HINT.pattern.split("|"))
