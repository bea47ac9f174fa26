"""The Gemini workload of bench_gemini.py: the real ``google.genai.Client`` over
``httpx2.MockTransport`` (canned bytes, no network, no server), so what is measured is the SDK
plus whatever traces it. Imports neither tracepond nor any peer, so the peers' own virtual
environments can run it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
from google import genai
from google.genai import types

MODEL = "gemini-2.5-flash"
CONTENTS = "How long do refunds take?"
CONFIG = types.GenerateContentConfig(system_instruction="You are a support bot.", temperature=0.2)
CHUNKS = 20


def _response(text: str, finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    usage: dict[str, Any] = {"promptTokenCount": 12, "totalTokenCount": 12}
    if finish:
        candidate["finishReason"] = "STOP"
        usage = {"promptTokenCount": 12, "candidatesTokenCount": 5, "totalTokenCount": 17}
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": MODEL,
        "responseId": "resp-bench",
    }


def stream_body() -> bytes:
    events = [_response(f"word{i} ", i == CHUNKS - 1) for i in range(CHUNKS)]
    return "".join(f"data: {json.dumps(e)}\r\n\r\n" for e in events).encode()


def mock_client() -> genai.Client:
    whole = json.dumps(_response("Refunds take five days.", True)).encode()
    stream = stream_body()

    def handler(request: httpx2.Request) -> httpx2.Response:
        if ":streamGenerateContent" in request.url.path:
            return httpx2.Response(
                200, content=stream, headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(200, content=whole, headers={"content-type": "application/json"})

    options = types.HttpOptions(
        base_url="http://bench.invalid",
        httpx_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    return genai.Client(api_key="bench-key", http_options=options)


def one_call(client: genai.Client) -> None:
    client.models.generate_content(model=MODEL, contents=CONTENTS, config=CONFIG)


def one_stream(client: genai.Client) -> None:
    for _chunk in client.models.generate_content_stream(
        model=MODEL, contents=CONTENTS, config=CONFIG
    ):
        pass


VARIANTS: tuple[tuple[str, Callable[[genai.Client], None]], ...] = (
    ("generate_content", one_call),
    ("stream 20 chunks", one_stream),
)
