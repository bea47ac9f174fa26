"""The OpenAI workload shared by bench_openai.py and bench_peers_openai.py.

The real ``openai.OpenAI`` client over ``httpx2.MockTransport`` (the http library openai 3.x
uses): canned bytes, no network, so what is measured is the client plus whatever traces it.
Imports neither tracepond nor any peer, so the peers' own virtual environments can run it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import openai
from _timing import Samples, p95, us  # noqa: F401  (re-exported: the benchmarks import them here)

MESSAGES = [{"role": "user", "content": "How long do refunds take?"}]
CHUNKS = 20


def completion_body() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Refunds take five days."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
        }
    ).encode()


def stream_body() -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"content": f"word{i} "}) for i in range(CHUNKS)]
    frames.append(chunk({}, "stop"))
    return ("".join(frames) + "data: [DONE]\n\n").encode()


def mock_client() -> openai.OpenAI:
    completion, stream = completion_body(), stream_body()

    def handler(request: httpx2.Request) -> httpx2.Response:
        if b'"stream":true' in request.content or b'"stream": true' in request.content:
            return httpx2.Response(
                200, content=stream, headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(
            200, content=completion, headers={"content-type": "application/json"}
        )

    return openai.OpenAI(
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def one_call(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def one_stream(client: openai.OpenAI) -> None:
    for _chunk in client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ):
        pass


VARIANTS: tuple[tuple[str, Callable[[openai.OpenAI], None]], ...] = (
    ("create", one_call),
    ("stream 20 chunks", one_stream),
)
