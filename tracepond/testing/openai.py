"""``FakeOpenAIServer``: a stand-in for the OpenAI API (and the OpenAI-compatible Groq API).

Start it, point the real client at it, and every call is answered locally, deterministically::

    from openai import OpenAI
    from tracepond.testing import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        client = OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
        )
        assert reply.choices[0].message.content == "Echo: hello"

Routes (matched on how the path ends, so ``/v1/...``, Groq's ``/openai/v1/...`` and Azure's
``/openai/deployments/NAME/...`` all work): ``chat/completions``, ``responses``, ``embeddings``
and ``completions``, each as JSON or, with ``stream=true``, as server-sent events.

What it answers:

- chat: ``"Echo: <last user text>"``; when ``tools`` are given (and the last message is not a
  tool result) a call of the first tool with arguments ``{"<its first parameter>": <text>}``
  and finish reason ``tool_calls``; after a tool result, ``"Tool said: <result>"``;
- responses: the same, as Responses API output items and, streamed, the full event sequence
  (``response.created`` ... ``response.output_text.delta`` ... ``response.completed``);
- embeddings: ``dimensions`` (default 8) floats derived from a hash of each input, as floats or
  base64 per ``encoding_format``; completions: ``" Echo: <prompt>"``;
- usage: input tokens = words in the request's texts, output tokens = words in the answer; with
  ``stream_options.include_usage`` a final usage-only chunk, as OpenAI sends it.

Scripting: ``reply_next(text=..., tool_calls=[("name", {...})], model=..., finish_reason=...,
cached_tokens=..., reasoning_tokens=...)`` sets the next answer; the faults of
:class:`tracepond.testing.server.FakeServer` (``fail_next(429)``, ``drop_next(after_chunks=3)``,
``slow_next(0.5)``) make it fail like the real API. ``requests`` logs what was received, headers
(``Authorization``) included. Give the client ``max_retries=0`` so a fault is seen once.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tracepond.testing import judge, openai_responses
from tracepond.testing.server import FakeServer, RecordedRequest, Reply

CREATED = 1_700_000_000  # a fixed timestamp: answers are identical run after run

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass
class ScriptedReply:
    """The next answer, instead of the echo."""

    text: str | None = None
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, arguments)
    model: str | None = None
    finish_reason: str | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    failed: str | None = None  # Responses API: answer status "failed" with this error code


@dataclass
class Answer:
    """What the model 'says' to one request, in provider-neutral form."""

    model: str
    text: str | None
    tool_calls: list[tuple[str, str, str]]  # (call id, name, arguments JSON text)
    finish_reason: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    failed: str | None = None

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


class FakeOpenAIServer(FakeServer):
    """The OpenAI API on 127.0.0.1 (see the module docstring)."""

    server_name = "fake-openai"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        stream_chunks: int | None = None,
    ) -> None:
        """``api_key``: when set, requests without ``Authorization: Bearer <api_key>`` get 401.
        ``stream_chunks``: split every streamed text into exactly this many content chunks
        (default: one per word)."""
        super().__init__(host, port)
        self.api_key = api_key
        self.stream_chunks = stream_chunks
        self._replies: collections.deque[ScriptedReply] = collections.deque()
        self._counter = 0
        self._counter_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """What to give ``OpenAI(base_url=...)``: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    def reply_next(self, text: str | None = None, **details: Any) -> None:
        """Script the next answer (see :class:`ScriptedReply` for the fields)."""
        self._replies.append(ScriptedReply(text=text, **details))

    def reset(self) -> None:
        """Forget requests, faults and scripted replies; ids start again from 1."""
        super().reset()
        self._replies.clear()
        with self._counter_lock:
            self._counter = 0

    def error_body(self, status: int, message: str) -> Any:
        kind, code = _ERROR_TYPES.get(status, ("server_error", None))
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def next_id(self, prefix: str) -> str:
        with self._counter_lock:
            self._counter += 1
            return f"{prefix}{self._counter:06d}"

    # --- routing -------------------------------------------------------------------------------
    def answer(self, request: RecordedRequest) -> Reply:
        if (
            self.api_key is not None
            and request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return Reply(status=401, body=self.error_body(401, "Incorrect API key provided."))
        path = request.path.rstrip("/")
        try:
            body = request.json() or {}
        except ValueError:
            return Reply(status=400, body=self.error_body(400, "The body is not valid JSON."))
        if request.method != "POST":
            return super().answer(request)
        invalid = _invalid_request(path, body)
        if invalid is not None:
            return Reply(status=400, body=invalid)
        if path.endswith("/chat/completions"):
            return self._chat(body)
        if path.endswith("/responses"):
            return openai_responses.reply(self, body)
        if path.endswith("/embeddings"):
            return self._embeddings(body)
        if path.endswith("/completions"):
            return self._completions(body)
        return super().answer(request)

    # --- the answer ------------------------------------------------------------------------------
    def compose(
        self,
        model: str,
        user_text: str,
        tool_names: list[tuple[str, str | None]],
        tool_result: str | None,
        input_words: int,
        verdict: str | None = None,
    ) -> Answer:
        """Decide what to answer: scripted, a tool call, a reply to a tool result, a judge's
        verdict (:mod:`tracepond.testing.judge`), or an echo."""
        scripted = self._replies.popleft() if self._replies else None
        calls: list[tuple[str, str, str]] = []
        if scripted is not None and (
            scripted.text is not None or scripted.tool_calls or scripted.failed
        ):
            text = scripted.text
            for name, arguments in scripted.tool_calls:
                arguments_text = arguments if isinstance(arguments, str) else json.dumps(arguments)
                calls.append((self.next_id("call_"), name, arguments_text))
        elif verdict is not None:
            text = verdict
        elif tool_result is not None:
            text = f"Tool said: {tool_result}"
        elif tool_names:
            name, parameter = tool_names[0]
            arguments = json.dumps({parameter: user_text} if parameter else {})
            text, calls = None, [(self.next_id("call_"), name, arguments)]
        else:
            text = f"Echo: {user_text}"
        finish = "tool_calls" if calls else "stop"
        output_words = _words(text or "") + sum(_words(c[2]) for c in calls)
        return Answer(
            model=(scripted.model if scripted and scripted.model else model),
            text=text,
            tool_calls=calls,
            finish_reason=(
                scripted.finish_reason if scripted and scripted.finish_reason else finish
            ),
            input_tokens=max(input_words, 1),
            output_tokens=max(output_words, 1),
            cached_tokens=scripted.cached_tokens if scripted else 0,
            reasoning_tokens=scripted.reasoning_tokens if scripted else 0,
            failed=scripted.failed if scripted else None,
        )

    def pieces(self, text: str) -> list[str]:
        """``text`` split the way it is streamed: per word, or into ``stream_chunks`` pieces."""
        if self.stream_chunks:
            count = self.stream_chunks
            size = max(1, -(-len(text) // count))
            parts = [text[i * size : (i + 1) * size] for i in range(count)]
            return [part for part in parts if part] or [""]
        words = text.split(" ")
        pieces = [word if i == 0 else " " + word for i, word in enumerate(words)]
        return [piece for piece in pieces if piece] or [""]

    # --- chat completions ------------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> Reply:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        tool_result = _text(last.get("content")) if last.get("role") == "tool" else None
        tools = [] if body.get("tool_choice") == "none" else _chat_tools(body.get("tools"))
        answer = self.compose(
            str(body.get("model", "")),
            _last_user_text(messages),
            tools,
            tool_result,
            sum(_words(_text(m.get("content"))) for m in messages),
            judge.verdict(_role_text(messages, "system"), _last_user_text(messages)),
        )
        completion_id = self.next_id("chatcmpl-")
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return _sse(self._chat_chunks(completion_id, answer, include_usage))
        message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None}
        if answer.tool_calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in answer.tool_calls
            ]
        return Reply(
            body={
                "id": completion_id,
                "object": "chat.completion",
                "created": CREATED,
                "model": answer.model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": answer.finish_reason,
                    }
                ],
                "usage": answer.usage(),
                "system_fingerprint": "fp_tracepond",
            }
        )

    def _chat_chunks(
        self, completion_id: str, answer: Answer, include_usage: bool
    ) -> Iterator[dict[str, Any]]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": answer.model,
                "system_fingerprint": "fp_tracepond",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                data["usage"] = None
            return data

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        if answer.text is not None:
            for piece in self.pieces(answer.text):
                yield chunk({"content": piece})
        for index, (call_id, name, arguments) in enumerate(answer.tool_calls):
            head = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            yield chunk({"tool_calls": [head]})
            half = len(arguments) // 2
            for part in (arguments[:half], arguments[half:]):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        yield chunk({}, answer.finish_reason)
        if include_usage:
            final = chunk({})
            final["choices"] = []
            final["usage"] = answer.usage()
            yield final

    # --- embeddings --------------------------------------------------------------------------------
    def _embeddings(self, body: dict[str, Any]) -> Reply:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dimensions = int(body.get("dimensions") or 8)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = _vector(json.dumps(text), dimensions)
            encoded: Any = vector
            if as_base64:
                encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = max(sum(_words(t) if isinstance(t, str) else len(t) for t in texts), 1)
        return Reply(
            body={
                "object": "list",
                "data": data,
                "model": body.get("model", ""),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    # --- legacy completions ------------------------------------------------------------------------
    def _completions(self, body: dict[str, Any]) -> Reply:
        prompt = body.get("prompt")
        prompt_text = (
            prompt
            if isinstance(prompt, str)
            else " ".join(p for p in prompt or [] if isinstance(p, str))
        )
        answer = self.compose(
            str(body.get("model", "")), prompt_text, [], None, _words(prompt_text)
        )
        text = " " + (answer.text or "")
        completion_id = self.next_id("cmpl-")
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return _sse(self._completion_chunks(completion_id, answer, text, include_usage))
        return Reply(
            body={
                "id": completion_id,
                "object": "text_completion",
                "created": CREATED,
                "model": answer.model,
                "choices": [
                    {
                        "index": 0,
                        "text": text,
                        "logprobs": None,
                        "finish_reason": answer.finish_reason,
                    }
                ],
                "usage": answer.usage(),
            }
        )

    def _completion_chunks(
        self, completion_id: str, answer: Answer, text: str, include_usage: bool
    ) -> Iterator[dict[str, Any]]:
        def chunk(piece: str, finish: str | None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "text_completion",
                "created": CREATED,
                "model": answer.model,
                "choices": [{"index": 0, "text": piece, "logprobs": None, "finish_reason": finish}],
            }

        for piece in self.pieces(text):
            yield chunk(piece, None)
        yield chunk("", answer.finish_reason)
        if include_usage:
            final = chunk("", None)
            final["choices"] = []
            final["usage"] = answer.usage()
            yield final


def _sse(events: Iterator[dict[str, Any]], done: bool = True) -> Reply:
    def frames() -> Iterator[bytes]:
        for event in events:
            yield b"data: " + json.dumps(event).encode() + b"\n\n"
        if done:
            yield b"data: [DONE]\n\n"

    return Reply(chunks=frames(), content_type="text/event-stream")


def _words(text: str) -> int:
    return len(text.split())


def _text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and "text" in part
        )
    return ""


def _role_text(messages: list[dict[str, Any]], role: str) -> str:
    return " ".join(_text(m.get("content")) for m in messages if m.get("role") == role)


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _chat_tools(tools: Any) -> list[tuple[str, str | None]]:
    """(name, first parameter name) of each function tool."""
    found = []
    for tool in tools or []:
        spec = tool.get("function", tool) if isinstance(tool, dict) else {}
        name = spec.get("name")
        if isinstance(name, str):
            properties = (spec.get("parameters") or {}).get("properties") or {}
            found.append((name, next(iter(properties), None)))
    return found


def _vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    while len(digest) < dimensions:
        digest += hashlib.sha256(digest).digest()
    return [round(byte / 127.5 - 1.0, 4) for byte in digest[:dimensions]]


_JSON_TYPES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
               dict: "an object", list: "an array", type(None): "null"}  # fmt: skip


def _invalid_request(path: str, body: Any) -> dict[str, Any] | None:
    """The real API's 400 for a request of the wrong shape (its wording and error code)."""
    if not isinstance(body, dict):
        return _invalid_type("body", "an object", body)
    if path.endswith("/chat/completions"):
        messages = body.get("messages")
        if messages is None:
            return _invalid(
                "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
            )
        if not isinstance(messages, list):
            return _invalid_type("messages", "an array", messages)
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                return _invalid_type(f"messages[{index}]", "an object", message)
    if path.endswith("/embeddings") and not isinstance(body.get("input"), (str, list)):
        return _invalid_type("input", "a string or an array", body.get("input"))
    if "model" in body and not isinstance(body["model"], str):
        return _invalid_type("model", "a string", body["model"])
    return None


def _invalid_type(param: str, expected: str, value: Any) -> dict[str, Any]:
    got = _JSON_TYPES.get(type(value), "another type")
    return _invalid(
        f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
        param,
        "invalid_type",
    )


def _invalid(message: str, param: str, code: str) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }
