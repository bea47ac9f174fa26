"""The Anthropic workload of bench_anthropic.py.

The real ``anthropic.Anthropic`` client over ``httpx2.MockTransport`` (the http library
anthropic 2.x uses): canned bytes, no network, so what is measured is the client plus whatever
traces it. Three calls: ``messages.create``; ``messages.create(stream=True)`` read to the end,
a stream of 20 events (message_start, content_block_start, 15 text deltas, content_block_stop,
message_delta, message_stop); and the ``messages.stream()`` helper over the same 20 events,
read with ``get_final_text()``. Imports neither tracepond nor any peer, so the peers' own
virtual environments can run it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2

MODEL = "claude-sonnet-4-5"
MESSAGES = [{"role": "user", "content": "How long do refunds take?"}]
EVENTS = 20
USAGE = {"input_tokens": 12, "output_tokens": 15, "cache_read_input_tokens": 0}


def message_body() -> bytes:
    return json.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "Refunds take five days."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": USAGE,
        }
    ).encode()


def stream_body() -> bytes:
    def frame(event: dict[str, Any]) -> str:
        return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"

    start = json.loads(message_body())
    start.update(content=[], stop_reason=None, usage={**USAGE, "output_tokens": 1})
    deltas = EVENTS - 5
    events = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": f"w{i} "},
            }
            for i in range(deltas)
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 15},
        },
        {"type": "message_stop"},
    ]
    assert len(events) == EVENTS
    return "".join(frame(event) for event in events).encode()


def mock_client() -> anthropic.Anthropic:
    message, stream = message_body(), stream_body()

    def handler(request: httpx2.Request) -> httpx2.Response:
        if b'"stream":true' in request.content or b'"stream": true' in request.content:
            return httpx2.Response(
                200, content=stream, headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(200, content=message, headers={"content-type": "application/json"})

    return anthropic.Anthropic(
        api_key="sk-ant-bench",
        base_url="http://bench.invalid",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def one_call(client: anthropic.Anthropic) -> None:
    client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES)  # type: ignore[arg-type]


def one_stream(client: anthropic.Anthropic) -> None:
    for _event in client.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
    ):
        pass


def one_helper_stream(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL,
        max_tokens=256,
        messages=MESSAGES,  # type: ignore[arg-type]
    ) as stream:
        stream.get_final_text()


VARIANTS: tuple[tuple[str, Callable[[anthropic.Anthropic], None]], ...] = (
    ("create", one_call),
    ("stream 20 events", one_stream),
    ("stream() helper", one_helper_stream),
)
