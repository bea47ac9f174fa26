"""How openai streams add up: chat chunks, Responses API events, legacy completion chunks.

Each accumulator sees every item passing through the stream proxy (``on_item``, kept short: it
runs once per chunk in the caller's thread) and writes the whole once the stream ends
(``finish``): one output message per choice with its text and its tool calls (arguments joined
from their deltas), finish reasons, response id and model, and usage when the stream carried it.

``hide_usage=True`` (set when ``autolog(stream_usage=True)`` asked for usage the caller did not
ask for) hides the usage-only chunk, so the caller sees exactly the chunks it would have seen.
"""

from __future__ import annotations

from typing import Any

from tracepond.autolog.chat_completions import messages as msg
from tracepond.autolog.content import plain
from tracepond.autolog.provider import CallRecord
from tracepond.conventions import attributes as attr


def record_chat_request(record: CallRecord, kwargs: dict[str, Any]) -> None:
    """What a chat.completions-shaped request records, for OpenAI and Groq alike: the choice
    count, stop sequences, and (when content is captured) input messages and tool definitions."""
    attributes = record.attributes
    n = kwargs.get("n")
    if isinstance(n, int) and n != 1:
        attributes[attr.GEN_AI_REQUEST_CHOICE_COUNT] = n
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        attributes[attr.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop):
        attributes[attr.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    if record.capture:
        record.set_content(
            attr.GEN_AI_INPUT_MESSAGES, msg.chat_input_messages(kwargs.get("messages"))
        )
        tools = msg.tool_definitions(kwargs.get("tools"))
        if tools:
            record.set_content(attr.GEN_AI_TOOL_DEFINITIONS, tools)


def record_chat_response(record: CallRecord, result: Any) -> None:
    """What a (non-streamed) chat completion records, for OpenAI and Groq alike."""
    choices = getattr(result, "choices", None) or ()
    record.set_response(
        getattr(result, "id", None),
        getattr(result, "model", None),
        [choice.finish_reason or "" for choice in choices],
    )
    record_chat_usage(record, getattr(result, "usage", None))
    if record.capture:
        messages = [msg.chat_output_message(c.message, c.finish_reason) for c in choices]
        record.set_content(attr.GEN_AI_OUTPUT_MESSAGES, messages, "outputs")
        record.set_outputs(result)


def record_chat_usage(record: CallRecord, usage: Any, source: str | None = None) -> None:
    """Usage of chat.completions / completions (prompt/completion tokens and their details)."""
    if usage is None:
        return
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    record.set_usage(
        getattr(usage, "prompt_tokens", None),
        getattr(usage, "completion_tokens", None),
        cache_read=getattr(prompt_details, "cached_tokens", None),
        reasoning=getattr(completion_details, "reasoning_tokens", None),
        source=source,
    )


def record_response_object(record: CallRecord, response: Any) -> None:
    """A Responses API ``Response``: id, model, finish reason, usage, output messages."""
    messages = msg.responses_output_messages(response)
    record.set_response(
        getattr(response, "id", None),
        getattr(response, "model", None),
        [messages[0]["finish_reason"]],
    )
    if getattr(response, "status", None) == "failed":
        error = getattr(response, "error", None)
        code = getattr(error, "code", None)
        record.set_error(str(code or "response_failed"), str(getattr(error, "message", "") or ""))
    usage = getattr(response, "usage", None)
    if usage is not None:
        record.set_usage(
            getattr(usage, "input_tokens", None),
            getattr(usage, "output_tokens", None),
            cache_read=getattr(getattr(usage, "input_tokens_details", None), "cached_tokens", None),
            reasoning=getattr(
                getattr(usage, "output_tokens_details", None), "reasoning_tokens", None
            ),
        )
    if record.capture:
        record.set_content(attr.GEN_AI_OUTPUT_MESSAGES, messages, "outputs")


class _Choice:
    """One choice being assembled from deltas."""

    __slots__ = ("finish_reason", "refusal", "role", "text", "tool_calls")

    def __init__(self) -> None:
        self.role = "assistant"
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, list[Any]] = {}  # index -> [id, name, [argument pieces]]
        self.finish_reason: str | None = None

    def add_tool_call_delta(self, delta: Any) -> None:
        call = self.tool_calls.get(delta.index)
        if call is None:
            call = self.tool_calls[delta.index] = [None, None, []]
        if delta.id:
            call[0] = delta.id
        function = delta.function
        if function is not None:
            if function.name:
                call[1] = function.name
            if function.arguments:
                call[2].append(function.arguments)

    def message(self) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if self.text:
            parts.append(msg.text_part("".join(self.text)))
        if self.refusal:
            parts.append({"type": "refusal", "content": "".join(self.refusal)})
        for _index, (call_id, name, pieces) in sorted(self.tool_calls.items()):
            parts.append(msg.tool_call_part(call_id, name, "".join(pieces)))
        return {"role": self.role, "parts": parts, "finish_reason": self.finish_reason or ""}

    def as_output(self, index: int) -> dict[str, Any]:
        """The choice shaped like a non-streamed ChatCompletion choice, for tracepond.outputs."""
        message: dict[str, Any] = {"role": self.role, "content": "".join(self.text) or None}
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": "".join(pieces)},
                }
                for _i, (call_id, name, pieces) in sorted(self.tool_calls.items())
            ]
        return {"index": index, "message": message, "finish_reason": self.finish_reason}


class ChatStreamAccumulator:
    """chat.completions chunks -> one output message per choice."""

    __slots__ = ("choices", "hide_usage", "id", "model", "usage")

    def __init__(self, hide_usage: bool = False) -> None:
        self.hide_usage = hide_usage
        self.id: str | None = None
        self.model: str | None = None
        self.usage: Any = None
        self.choices: dict[int, _Choice] = {}

    def on_item(self, chunk: Any) -> bool:
        if self.id is None:
            self.id = getattr(chunk, "id", None)
            self.model = getattr(chunk, "model", None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        choices = getattr(chunk, "choices", None)
        if not choices:
            return self.hide_usage and usage is not None
        for choice in choices:
            state = self.choices.get(choice.index)
            if state is None:
                state = self.choices[choice.index] = _Choice()
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    state.text.append(delta.content)
                if delta.tool_calls:
                    for call in delta.tool_calls:
                        state.add_tool_call_delta(call)
                if getattr(delta, "refusal", None):
                    state.refusal.append(delta.refusal)
                if delta.role:
                    state.role = delta.role
            if choice.finish_reason:
                state.finish_reason = choice.finish_reason
        return False

    def finish(self, record: CallRecord) -> None:
        ordered = sorted(self.choices.items())
        record.set_response(self.id, self.model, [c.finish_reason or "" for _i, c in ordered])
        source = "stream_options" if self.hide_usage else None
        record_chat_usage(record, self.usage, source)
        if record.capture:
            record.set_content(
                attr.GEN_AI_OUTPUT_MESSAGES, [c.message() for _i, c in ordered], "outputs"
            )
            record.set_outputs(
                {
                    "id": self.id,
                    "object": "chat.completion",
                    "model": self.model,
                    "choices": [c.as_output(i) for i, c in ordered],
                    "usage": plain(self.usage),
                }
            )


class CompletionStreamAccumulator:
    """Legacy completions chunks -> one output message per choice."""

    __slots__ = ("choices", "hide_usage", "id", "model", "usage")

    def __init__(self, hide_usage: bool = False) -> None:
        self.hide_usage = hide_usage
        self.id: str | None = None
        self.model: str | None = None
        self.usage: Any = None
        self.choices: dict[int, _Choice] = {}

    def on_item(self, chunk: Any) -> bool:
        if self.id is None:
            self.id = getattr(chunk, "id", None)
            self.model = getattr(chunk, "model", None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        choices = getattr(chunk, "choices", None)
        if not choices:
            return self.hide_usage and usage is not None
        for choice in choices:
            state = self.choices.get(choice.index)
            if state is None:
                state = self.choices[choice.index] = _Choice()
            if choice.text:
                state.text.append(choice.text)
            if choice.finish_reason:
                state.finish_reason = choice.finish_reason
        return False

    def finish(self, record: CallRecord) -> None:
        ordered = sorted(self.choices.items())
        record.set_response(self.id, self.model, [c.finish_reason or "" for _i, c in ordered])
        record_chat_usage(record, self.usage, "stream_options" if self.hide_usage else None)
        if record.capture:
            record.set_content(
                attr.GEN_AI_OUTPUT_MESSAGES, [c.message() for _i, c in ordered], "outputs"
            )
            record.set_outputs(
                {
                    "id": self.id,
                    "object": "text_completion",
                    "model": self.model,
                    "choices": [
                        {"index": i, "text": "".join(c.text), "finish_reason": c.finish_reason}
                        for i, c in ordered
                    ],
                    "usage": plain(self.usage),
                }
            )


_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesStreamAccumulator:
    """Responses API events: the final ``response.*`` event carries the whole Response; a stream
    cut before it still records the id, model and the text deltas seen so far."""

    __slots__ = ("final", "started", "text")

    def __init__(self) -> None:
        self.final: Any = None
        self.started: Any = None
        self.text: list[str] = []

    def on_item(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "response.output_text.delta":
            self.text.append(event.delta)
        elif kind in _FINAL_EVENTS:
            self.final = event.response
        elif kind == "response.created":
            self.started = event.response
        return False

    def finish(self, record: CallRecord) -> None:
        if self.final is not None:
            record_response_object(record, self.final)
            if record.capture:
                record.set_outputs(self.final)
            return
        started = self.started
        record.set_response(getattr(started, "id", None), getattr(started, "model", None))
        if record.capture and self.text:
            message = {
                "role": "assistant",
                "parts": [msg.text_part("".join(self.text))],
                "finish_reason": "",
            }
            record.set_content(attr.GEN_AI_OUTPUT_MESSAGES, [message], "outputs")
            record.set_outputs(
                {"id": getattr(started, "id", None), "output_text": "".join(self.text)}
            )
