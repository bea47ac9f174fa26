"""``FakeGeminiServer``: a stand-in for the Gemini API (``generativelanguage.googleapis.com``).

Start it, point the real ``google-genai`` client at it, and every call is answered locally::

    from google import genai
    from tracepond.testing import FakeGeminiServer

    with FakeGeminiServer() as server:
        client = genai.Client(api_key="test-key", http_options={"base_url": server.base_url})
        reply = client.models.generate_content(model="gemini-2.5-flash", contents="hello")
        assert reply.text == "Echo: hello"

Routes (the REST API's, any API version: ``/v1beta/models/NAME:method``, and Vertex AI's
``.../publishers/google/models/NAME:method``):

- ``:generateContent``: one ``GenerateContentResponse`` (JSON, camelCase as the API sends it);
- ``:streamGenerateContent?alt=sse``: the same answer as server-sent events, one per word,
  ``data: {...}`` frames separated by ``\\r\\n\\r\\n``; every event carries ``modelVersion``,
  ``responseId`` and the prompt's ``usageMetadata``; the last one the ``finishReason`` and the
  full usage;
- ``:embedContent`` and ``:batchEmbedContents``: ``values`` derived from a hash of each text.

What it answers: ``"Echo: <last user text>"``; when ``functionDeclarations`` are given (and the
last turn is not a ``functionResponse``) a ``functionCall`` of the first one with arguments
``{"<its first parameter>": <text>}``; after a ``functionResponse``, ``"Tool said: <response>"``.
Token counts are words: the prompt's texts (system instruction included), the answer's.

Scripting: ``reply_next(text=..., function_calls=[("name", {...})], thought=..., finish_reason=
"SAFETY", block_reason="SAFETY", cached_tokens=..., thoughts_tokens=..., model_version=...)``
sets the next answer. Faults: ``fail_next(429)`` answers with Google's error body
(``{"error": {"code", "message", "status", "details"}}``; a 429 carries a ``RetryInfo`` detail
with ``retryDelay``), ``drop_next(after_chunks=2)`` cuts a stream mid-body,
``malform_next(after_chunks=1)`` sends an event that is not JSON there,
``error_in_stream_next(after_chunks=1, status=500)`` an error body as an event, ending the
stream. ``api_key``: requests without ``x-goog-api-key: <api_key>`` get a 400
``INVALID_ARGUMENT`` ("API key not valid"), as Google answers.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tracepond.testing.openai import _vector, _words  # the same word counts and vectors
from tracepond.testing.server import FakeServer, RecordedRequest, Reply

# HTTP status -> the google.rpc status name Google's error bodies carry.
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
RETRY_DELAY = "7s"  # what a 429's RetryInfo says
_NEGLIGIBLE = [
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "NEGLIGIBLE"},
]
_MALFORMED = b'data: {"candidates": [{"content": \r\n\r\n'  # cut JSON: not an event
_BLOCKED = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]


@dataclass
class GeminiReply:
    """The next answer, instead of the echo."""

    text: str | None = None
    function_calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, args)
    thought: str | None = None  # a thought summary part before the answer
    finish_reason: str | None = None  # "SAFETY", "MAX_TOKENS", ...
    block_reason: str | None = None  # the prompt is blocked: no candidates at all
    cached_tokens: int = 0
    thoughts_tokens: int | None = None  # default: words of ``thought``
    model_version: str | None = None


@dataclass
class _Answer:
    model: str
    parts: list[dict[str, Any]]
    finish_reason: str | None
    block_reason: str | None
    prompt_tokens: int
    output_tokens: int
    cached_tokens: int
    thoughts_tokens: int
    count: int = 1  # generationConfig.candidateCount: that many identical candidates

    def usage(self, final: bool = True) -> dict[str, Any]:
        usage: dict[str, Any] = {"promptTokenCount": self.prompt_tokens}
        if self.cached_tokens:
            usage["cachedContentTokenCount"] = self.cached_tokens
        total = self.prompt_tokens
        if final and self.block_reason is None:
            usage["candidatesTokenCount"] = self.output_tokens
            total += self.output_tokens
            if self.thoughts_tokens:
                usage["thoughtsTokenCount"] = self.thoughts_tokens
                total += self.thoughts_tokens
        usage["totalTokenCount"] = total
        usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.prompt_tokens}]
        return usage


class FakeGeminiServer(FakeServer):
    """The Gemini API on 127.0.0.1 (see the module docstring)."""

    server_name = "fake-gemini"

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None
    ) -> None:
        super().__init__(host, port)
        self.api_key = api_key
        self._replies: collections.deque[GeminiReply] = collections.deque()
        # (after how many events, the frame to send there, whether the stream ends with it)
        self._stream_faults: collections.deque[tuple[int, bytes, bool]] = collections.deque()
        self._counter = 0
        self._counter_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """What to give ``genai.Client(http_options={"base_url": ...})``."""
        return self.url

    def reply_next(self, text: str | None = None, **details: Any) -> None:
        """Script the next answer (see :class:`GeminiReply` for the fields)."""
        self._replies.append(GeminiReply(text=text, **details))

    def malform_next(self, after_chunks: int = 1) -> None:
        """The next streamed answer sends ``after_chunks`` good events, then one that is not
        JSON, then the rest."""
        self._stream_faults.append((after_chunks, _MALFORMED, False))

    def error_in_stream_next(
        self, after_chunks: int = 1, status: int = 500, message: str = "Internal error"
    ) -> None:
        """The next streamed answer sends ``after_chunks`` good events, then Google's error body
        as an event (as the API reports a failure after the stream began), and ends."""
        frame = b"data: " + json.dumps(self.error_body(status, message)).encode() + b"\r\n\r\n"
        self._stream_faults.append((after_chunks, frame, True))

    def reset(self) -> None:
        """Forget requests, faults and scripted replies; ids start again from 1."""
        super().reset()
        self._replies.clear()
        self._stream_faults.clear()
        with self._counter_lock:
            self._counter = 0

    def error_body(self, status: int, message: str) -> Any:
        status_name = _STATUS_NAMES.get(status, "UNKNOWN" if status < 500 else "INTERNAL")
        error: dict[str, Any] = {"code": status, "message": message, "status": status_name}
        if status == 429:
            error["details"] = [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": RETRY_DELAY}
            ]
        return {"error": error}

    def _next_id(self) -> str:
        with self._counter_lock:
            self._counter += 1
            return f"resp-{self._counter:06d}"

    # --- routing -----------------------------------------------------------------------------
    def answer(self, request: RecordedRequest) -> Reply:
        if self.api_key is not None and request.headers.get("x-goog-api-key") != self.api_key:
            return Reply(
                status=400, body=self.error_body(400, "API key not valid. Please pass a valid key.")
            )
        model, _, method = request.path.rpartition("/models/")[2].partition(":")
        try:
            body = request.json() or {}
        except ValueError:
            return Reply(status=400, body=self.error_body(400, "Invalid JSON payload received."))
        if request.method != "POST" or not model:
            return super().answer(request)
        if method == "generateContent":
            answer = self._compose(model, body)
            return Reply(body=self._response(answer, self._next_id(), answer.parts, True))
        if method == "streamGenerateContent":
            return self._stream(self._compose(model, body))
        if method == "embedContent":
            return Reply(body=_embedding(body, model))
        if method == "batchEmbedContents":
            return Reply(body=_batch_embeddings(body, model))
        return super().answer(request)

    # --- the answer --------------------------------------------------------------------------
    def _compose(self, model: str, body: dict[str, Any]) -> _Answer:
        contents = body.get("contents") or []
        scripted = self._replies.popleft() if self._replies else None
        prompt_words = sum(_words(_texts(c)) for c in contents)
        prompt_words += _words(_texts(body.get("systemInstruction") or {}))
        parts = _scripted_parts(scripted) if scripted else _echo_parts(contents, body)
        thoughts = 0
        if scripted is not None:
            thoughts = (
                scripted.thoughts_tokens
                if scripted.thoughts_tokens is not None
                else _words(scripted.thought or "")
            )
        answer_words = sum(
            _words(p.get("text", ""))
            + (_words(json.dumps(p["functionCall"])) if "functionCall" in p else 0)
            for p in parts
            if not p.get("thought")
        )
        finish = "STOP"
        if scripted is not None and scripted.finish_reason:
            finish = scripted.finish_reason
        count = max(int((body.get("generationConfig") or {}).get("candidateCount") or 1), 1)
        return _Answer(
            model=(scripted.model_version if scripted and scripted.model_version else model),
            parts=parts,
            finish_reason=finish,
            block_reason=scripted.block_reason if scripted else None,
            prompt_tokens=max(prompt_words, 1),
            output_tokens=max(answer_words, 1) * count,
            cached_tokens=scripted.cached_tokens if scripted else 0,
            thoughts_tokens=thoughts,
            count=count,
        )

    def _response(
        self, answer: _Answer, response_id: str, parts: list[dict[str, Any]], final: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if answer.block_reason is not None:
            body["promptFeedback"] = {"blockReason": answer.block_reason, "safetyRatings": _BLOCKED}
        else:
            body["candidates"] = [_candidate(answer, parts, final, i) for i in range(answer.count)]
        body["usageMetadata"] = answer.usage(final)
        body["modelVersion"] = answer.model
        body["responseId"] = response_id
        return body

    def _stream(self, answer: _Answer) -> Reply:
        response_id = self._next_id()
        fault = self._stream_faults.popleft() if self._stream_faults else None
        events: list[dict[str, Any]] = []
        if answer.block_reason is not None:
            events.append(self._response(answer, response_id, [], True))
        else:
            pieces = _stream_pieces(answer.parts)
            for index, part in enumerate(pieces):
                last = index == len(pieces) - 1
                events.append(self._response(answer, response_id, [part] if part else [], last))

        def frames() -> Iterator[bytes]:
            for index, event in enumerate(events):
                if fault is not None and index == fault[0]:
                    yield fault[1]
                    if fault[2]:
                        return
                yield b"data: " + json.dumps(event).encode() + b"\r\n\r\n"

        return Reply(chunks=frames(), content_type="text/event-stream")


def _candidate(
    answer: _Answer, parts: list[dict[str, Any]], final: bool, index: int
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
    if final:
        candidate["finishReason"] = answer.finish_reason
        candidate["safetyRatings"] = _BLOCKED if answer.finish_reason == "SAFETY" else _NEGLIGIBLE
    if not parts:  # a candidate stopped before any output has no content
        del candidate["content"]
    return candidate


def _scripted_parts(scripted: GeminiReply) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if scripted.thought:
        parts.append({"text": scripted.thought, "thought": True})
    if scripted.text is not None:
        parts.append({"text": scripted.text})
    for name, args in scripted.function_calls:
        parts.append({"functionCall": {"name": name, "args": args}})
    if scripted.finish_reason == "SAFETY" and scripted.text is None:
        return parts  # stopped for safety before saying anything
    if not parts and scripted.block_reason is None:
        parts.append({"text": ""})
    return parts


def _echo_parts(contents: list[Any], body: dict[str, Any]) -> list[dict[str, Any]]:
    last_parts = (contents[-1].get("parts") or []) if contents else []
    responses = [p["functionResponse"] for p in last_parts if "functionResponse" in p]
    if responses:
        return [{"text": f"Tool said: {json.dumps(responses[0].get('response'))}"}]
    user_text = _last_user_text(contents)
    mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
    declarations = [
        declaration
        for tool in body.get("tools") or []
        for declaration in tool.get("functionDeclarations") or []
    ]
    if declarations and mode != "NONE":
        first = declarations[0]
        schema = (  # the SDK sends a Python function's schema under its snake_case name
            first.get("parameters")
            or first.get("parametersJsonSchema")
            or first.get("parameters_json_schema")
            or {}
        )
        parameter = next(iter(schema.get("properties") or {}), None)
        args = {parameter: user_text} if parameter else {}
        return [{"functionCall": {"name": first.get("name"), "args": args}}]
    return [{"text": f"Echo: {user_text}"}]


def _stream_pieces(parts: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Text parts one word per event; other parts whole; never zero events."""
    pieces: list[dict[str, Any] | None] = []
    for part in parts:
        text = part.get("text")
        if not isinstance(text, str) or not text:
            pieces.append(part)
            continue
        words = text.split(" ")
        for index, word in enumerate(words):
            piece = dict(part, text=word if index == 0 else " " + word)
            pieces.append(piece)
    return pieces or [None]


def _texts(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    return " ".join(
        str(part["text"])
        for part in content.get("parts") or []
        if isinstance(part, dict) and "text" in part
    )


def _last_user_text(contents: list[Any]) -> str:
    for content in reversed(contents):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            return _texts(content)
    return ""


def _embedding(body: dict[str, Any], model: str) -> dict[str, Any]:
    dimensions = int(body.get("outputDimensionality") or 8)
    text = _texts(body.get("content") or {})
    tokens = max(_words(text), 1)
    return {
        "embedding": {"values": _vector(model + text, dimensions)},
        "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
    }


def _batch_embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    embeddings = []
    tokens = 0
    for request in body.get("requests") or []:
        one = _embedding(request, model)
        embeddings.append(one["embedding"])
        tokens += one["usageMetadata"]["promptTokenCount"]
    return {
        "embeddings": embeddings,
        "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
    }
