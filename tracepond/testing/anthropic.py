"""``FakeAnthropicServer``: a stand-in for the Anthropic Messages API (and Claude on Vertex AI).

Start it, point the real client at it, and every call is answered locally, deterministically::

    import anthropic
    from tracepond.testing import FakeAnthropicServer

    with FakeAnthropicServer() as server:
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=server.base_url,
                                     max_retries=0)
        reply = client.messages.create(model="claude-sonnet-4-5", max_tokens=100,
                                       messages=[{"role": "user", "content": "hello"}])
        assert reply.content[0].text == "Echo: hello"

Routes: ``POST /v1/messages`` (JSON, or server-sent events with ``stream: true``),
``POST /v1/messages/count_tokens``, and Vertex AI's ``.../publishers/anthropic/models/
MODEL:rawPredict`` / ``:streamRawPredict`` (give ``AnthropicVertex`` ``base_url=server.vertex_url``).
Claude on Bedrock is :class:`~tracepond.testing.bedrock.FakeBedrockServer`'s.

What it answers:

- ``"Echo: <last user text>"``; when ``tools`` are given (and the last turn is not a tool
  result) a ``tool_use`` of the first tool with input ``{"<its first property>": <text>}`` and
  stop reason ``tool_use``; after a ``tool_result``, ``"Tool said: <result>"``;
- with ``thinking`` enabled, a ``thinking`` block (``"Thinking about: <text>"``, with a
  signature) before the answer, counted in ``usage.output_tokens_details.thinking_tokens``;
- prompt caching: the prefix up to the last block marked ``cache_control`` is written to the
  cache the first time (``cache_creation_input_tokens``) and read from it afterwards
  (``cache_read_input_tokens``); ``input_tokens`` counts the rest, as the API does;
- usage: a token is a word of the request's texts, or of the answer.

Streams send the API's event sequence: ``message_start``, ``ping``, per block
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``thinking_delta`` and
``signature_delta``, ``input_json_delta`` in two halves) / ``content_block_stop``,
``message_delta`` (stop reason, cumulative usage), ``message_stop``.

Scripting: ``reply_next(text=..., tool_calls=[("name", {...})], thinking=..., model=...,
stop_reason=..., error_after=N, malformed_after=N)`` sets the next answer (``error_after``: an
``error`` event, ``overloaded_error``, after N events; ``malformed_after``: an event whose data is
not JSON). Faults: ``fail_next(status)`` answers with the API's error body (``{"type": "error",
"error": {"type": "rate_limit_error", ...}}``), ``rate_limit_next(retry_after=...)`` a 429 with
``retry-after``, ``drop_next(after_chunks=N)`` cuts the connection after N events. Give the
client ``max_retries=0`` so a fault is seen once.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tracepond.testing.server import FakeServer, Fault, RecordedRequest, Reply

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_VERTEX_MARK = "/publishers/anthropic/models/"


@dataclass
class ScriptedMessage:
    """The next answer, instead of the echo."""

    text: str | None = None
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, input or JSON text)
    thinking: str | None = None
    model: str | None = None
    stop_reason: str | None = None
    error_after: int | None = None
    malformed_after: int | None = None


@dataclass
class Answer:
    """What the model 'says': content blocks (tool inputs as JSON text), stop reason, usage."""

    model: str
    blocks: list[dict[str, Any]]
    stop_reason: str
    usage: dict[str, Any]
    error_after: int | None = None
    malformed_after: int | None = None

    def content(self) -> list[dict[str, Any]]:
        """The blocks as a non-streamed Message carries them."""
        shown = []
        for block in self.blocks:
            block = dict(block)
            if block["type"] == "tool_use":
                block["input"] = json.loads(block["input"])
            shown.append(block)
        return shown


class FakeAnthropicServer(FakeServer):
    """The Anthropic Messages API on 127.0.0.1 (see the module docstring)."""

    server_name = "fake-anthropic"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None):
        """``api_key``: when set, requests without ``x-api-key: <api_key>`` (or a matching
        bearer token) get 401."""
        super().__init__(host, port)
        self.api_key = api_key
        self._replies: collections.deque[ScriptedMessage] = collections.deque()
        self._cache: set[str] = set()
        self._counter = 0
        self._counter_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """What to give ``Anthropic(base_url=...)``: the server's root (the client adds /v1)."""
        return self.url

    @property
    def vertex_url(self) -> str:
        """What to give ``AnthropicVertex(base_url=...)``."""
        return f"{self.url}/v1"

    def reply_next(self, text: str | None = None, **details: Any) -> None:
        """Script the next answer (see :class:`ScriptedMessage` for the fields)."""
        self._replies.append(ScriptedMessage(text=text, **details))

    def rate_limit_next(self, retry_after: float = 1.0, times: int = 1) -> None:
        """The next ``times`` requests get 429 ``rate_limit_error`` with ``retry-after``."""
        fault = Fault(
            status=429,
            message="Number of request tokens has exceeded your per-minute rate limit",
            headers={"retry-after": f"{retry_after:g}"},
        )
        self.add_fault(fault, times)

    def reset(self) -> None:
        """Forget requests, faults, scripted replies and the prompt cache; ids restart."""
        super().reset()
        self._replies.clear()
        self._cache.clear()
        with self._counter_lock:
            self._counter = 0

    def error_body(self, status: int, message: str) -> Any:
        kind = _ERROR_TYPES.get(status, "api_error")
        return {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": self.next_id("req_"),
        }

    def next_id(self, prefix: str) -> str:
        with self._counter_lock:
            self._counter += 1
            return f"{prefix}{self._counter:06d}"

    # --- routing -------------------------------------------------------------------------------
    def answer(self, request: RecordedRequest) -> Reply:
        if self.api_key is not None and self.api_key not in (
            request.headers.get("x-api-key"),
            request.headers.get("authorization", "").removeprefix("Bearer "),
        ):
            return Reply(status=401, body=self.error_body(401, "invalid x-api-key"))
        try:
            body = request.json() or {}
        except ValueError:
            return Reply(status=400, body=self.error_body(400, "The body is not valid JSON."))
        path = request.path.rstrip("/")
        if request.method != "POST" or not isinstance(body, dict):
            return super().answer(request)
        if path.endswith("/v1/messages"):
            return self._messages(body, bool(body.get("stream")))
        if path.endswith("/count_tokens") or path.endswith("count-tokens:rawPredict"):
            return Reply(body={"input_tokens": max(_request_words(body), 1)})
        if _VERTEX_MARK in path:
            model, _, specifier = unquote(path.rpartition(_VERTEX_MARK)[2]).partition(":")
            body = {**body, "model": model}
            return self._messages(body, specifier == "streamRawPredict")
        return super().answer(request)

    # --- the answer ------------------------------------------------------------------------------
    def _messages(self, body: dict[str, Any], stream: bool) -> Reply:
        if not isinstance(body.get("max_tokens"), int) or not body.get("messages"):
            message = (
                "max_tokens: Field required"
                if "max_tokens" not in body
                else ("messages: at least one message is required")
            )
            return Reply(status=400, body=self.error_body(400, message))
        answer = self.compose(body)
        message_id = self.next_id("msg_")
        if stream:
            return _sse(self._events(message_id, answer), answer)
        return Reply(
            body={
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": answer.model,
                "content": answer.content(),
                "stop_reason": answer.stop_reason,
                "stop_sequence": None,
                "usage": answer.usage,
            }
        )

    def compose(self, body: dict[str, Any]) -> Answer:
        """Decide what to answer: scripted, a tool call, a reply to a tool result, or an echo."""
        scripted = self._replies.popleft() if self._replies else ScriptedMessage()
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        user_text = _last_user_text(messages)
        tool_result = _tool_result(messages[-1]) if messages else None
        blocks: list[dict[str, Any]] = []
        thinking = scripted.thinking
        if thinking is None and (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
            thinking = f"Thinking about: {user_text}"
        if thinking is not None:
            blocks.append({"type": "thinking", "thinking": thinking, "signature": "sig-fake"})
        text, calls = self._reply_of(scripted, body, user_text, tool_result)
        if text is not None:
            blocks.append({"type": "text", "text": text})
        for name, arguments in calls:
            inputs = arguments if isinstance(arguments, str) else json.dumps(arguments)
            blocks.append(
                {"type": "tool_use", "id": self.next_id("toolu_"), "name": name, "input": inputs}
            )
        stop = scripted.stop_reason or ("tool_use" if calls else "end_turn")
        return Answer(
            model=scripted.model or str(body.get("model", "")),
            blocks=blocks,
            stop_reason=stop,
            usage=self._usage(body, blocks),
            error_after=scripted.error_after,
            malformed_after=scripted.malformed_after,
        )

    def _reply_of(
        self, scripted: ScriptedMessage, body: dict[str, Any], user_text: str, tool_result: Any
    ) -> tuple[str | None, list[tuple[str, Any]]]:
        if scripted.text is not None or scripted.tool_calls:
            return scripted.text, list(scripted.tool_calls)
        if tool_result is not None:
            return f"Tool said: {tool_result}", []
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "input_schema" in t]
        if tools and (body.get("tool_choice") or {}).get("type") != "none":
            tool = tools[0]
            properties = (tool.get("input_schema") or {}).get("properties") or {}
            first = next(iter(properties), None)
            return None, [(str(tool.get("name")), {first: user_text} if first else {})]
        return f"Echo: {user_text}", []

    def _usage(self, body: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
        total = max(_request_words(body), 1)
        cached, prefix = _cache_prefix(body)
        read = written = 0
        if prefix is not None:
            with self._lock:
                if prefix in self._cache:
                    read = cached
                else:
                    self._cache.add(prefix)
                    written = cached
        thinking = sum(_words(b.get("thinking", "")) for b in blocks)
        output = thinking + sum(_words(b.get("text", "") + b.get("input", "")) for b in blocks)
        usage: dict[str, Any] = {
            "input_tokens": max(total - read - written, 0),
            "output_tokens": max(output, 1),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }
        if thinking:
            usage["output_tokens_details"] = {"thinking_tokens": thinking}
        return usage

    # --- streaming -------------------------------------------------------------------------------
    def _events(self, message_id: str, answer: Answer) -> Iterator[dict[str, Any]]:
        start_usage = {**answer.usage, "output_tokens": 1}
        start_usage.pop("output_tokens_details", None)
        yield {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": answer.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            },
        }
        yield {"type": "ping"}
        for index, block in enumerate(answer.blocks):
            yield from _block_events(index, block)
        final_usage = {"output_tokens": answer.usage["output_tokens"]}
        if "output_tokens_details" in answer.usage:
            final_usage["output_tokens_details"] = answer.usage["output_tokens_details"]
        yield {
            "type": "message_delta",
            "delta": {"stop_reason": answer.stop_reason, "stop_sequence": None},
            "usage": final_usage,
        }
        yield {"type": "message_stop"}


def _block_events(index: int, block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        arguments = block["input"]
        half = len(arguments) // 2
        deltas = [
            {"type": "input_json_delta", "partial_json": part}
            for part in (arguments[:half], arguments[half:])
        ]
    yield {"type": "content_block_start", "index": index, "content_block": start}
    for delta in deltas:
        yield {"type": "content_block_delta", "index": index, "delta": delta}
    yield {"type": "content_block_stop", "index": index}


def _sse(events: Iterator[dict[str, Any]], answer: Answer) -> Reply:
    def frames() -> Iterator[bytes]:
        for sent, event in enumerate(events):
            if answer.error_after is not None and sent == answer.error_after:
                error = {
                    "type": "error",
                    "error": {"type": "overloaded_error", "message": "Overloaded"},
                }
                yield b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n"
                return
            if answer.malformed_after is not None and sent == answer.malformed_after:
                yield b'event: content_block_delta\ndata: {"type": "content_block_delta", \n\n'
                return
            name = event["type"].encode()
            yield b"event: " + name + b"\ndata: " + json.dumps(event).encode() + b"\n\n"

    return Reply(chunks=frames(), content_type="text/event-stream")


def _pieces(text: str) -> list[str]:
    """``text`` split the way it is streamed: one piece per word."""
    words = text.split(" ")
    pieces = [word if i == 0 else " " + word for i, word in enumerate(words)]
    return [piece for piece in pieces if piece] or [""]


def _words(text: str) -> int:
    return len(text.split())


def _texts(value: Any) -> Iterator[str]:
    """Every text of a request value: strings, text blocks, tool results, nested lists."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for key in ("text", "content", "thinking"):
            if key in value:
                yield from _texts(value[key])


def _request_words(body: dict[str, Any]) -> int:
    return sum(_words(t) for t in _texts([body.get("system"), body.get("messages")]))


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = [b for b in content if isinstance(b, dict) and b.get("type") == "text"]
            return " ".join(_texts(content))
    return ""


def _tool_result(message: dict[str, Any]) -> str | None:
    content = message.get("content")
    if message.get("role") != "user" or not isinstance(content, list):
        return None
    results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return " ".join(" ".join(_texts(b.get("content"))) for b in results) if results else None


def _cache_prefix(body: dict[str, Any]) -> tuple[int, str | None]:
    """(words, key) of the request's prefix up to its last ``cache_control`` block."""
    system = body.get("system")
    sequence: list[Any] = list(system) if isinstance(system, list) else [system]
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        sequence.extend(content if isinstance(content, list) else [content])
    marked = [
        i for i, item in enumerate(sequence) if isinstance(item, dict) and item.get("cache_control")
    ]
    if not marked:
        return 0, None
    prefix = sequence[: marked[-1] + 1]
    return sum(_words(t) for t in _texts(prefix)), json.dumps(prefix, sort_keys=True)
