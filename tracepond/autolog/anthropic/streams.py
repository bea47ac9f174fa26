"""How an Anthropic message stream adds up into one answer.

``messages.create(stream=True)`` yields the raw events (``message_start``,
``content_block_start`` / ``_delta`` / ``_stop``, ``message_delta``, ``message_stop``); the
``messages.stream()`` helper yields the same events plus its own (``text``, ``input_json``,
``thinking``, ``signature``, ``citation``), which add nothing the raw ones do not carry and are
skipped. One accumulator serves both.

Each content block is kept as it started plus the pieces its deltas brought: text, thinking, and
the ``partial_json`` of a tool call, whose pieces are joined and parsed once the stream ends
(a tool call cut mid-stream keeps the text that arrived). Usage comes from ``message_start``
(input and cache counts) and ``message_delta`` (cumulative counts, which overwrite). ``on_item``
stays short: it runs once per event in the caller's thread.
"""

from __future__ import annotations

from typing import Any

from tracepond.autolog.anthropic import messages as msg
from tracepond.autolog.chat_completions.messages import Part, get, parse_arguments, text_part
from tracepond.autolog.content import plain
from tracepond.autolog.provider import CallRecord
from tracepond.conventions import attributes as attr

_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "output_tokens_details",
)


class _Block:
    """One content block being assembled: how it started, and the pieces of its deltas."""

    __slots__ = ("pieces", "start")

    def __init__(self, start: Any) -> None:
        self.start = start
        self.pieces: list[str] = []

    @property
    def kind(self) -> Any:
        return getattr(self.start, "type", None)

    def part(self) -> Part:
        kind = self.kind
        if kind == "text":
            return text_part(getattr(self.start, "text", "") + "".join(self.pieces))
        if kind == "thinking":
            thinking = getattr(self.start, "thinking", "") + "".join(self.pieces)
            return {"type": "reasoning", "content": thinking}
        if kind in ("tool_use", "server_tool_use"):
            return {
                "type": "tool_call",
                "id": getattr(self.start, "id", None),
                "name": getattr(self.start, "name", None),
                "arguments": self.arguments(),
            }
        return msg.part(self.start)

    def arguments(self) -> Any:
        """The tool input: the joined ``partial_json`` pieces, parsed when they parse."""
        if self.pieces:
            return parse_arguments("".join(self.pieces))
        return plain(getattr(self.start, "input", None))

    def as_output(self) -> Any:
        """The block shaped as in a non-streamed Message, for tracepond.outputs."""
        block = plain(self.start)
        if not isinstance(block, dict):
            return block
        kind = self.kind
        if kind in ("text", "thinking"):
            block[kind] = (block.get(kind) or "") + "".join(self.pieces)
        elif kind in ("tool_use", "server_tool_use"):
            block["input"] = self.arguments()
        return block


class MessageStreamAccumulator:
    """Raw (and the helper's) stream events -> one output message, usage, stop reason."""

    __slots__ = ("blocks", "id", "model", "stop_reason", "usage")

    def __init__(self) -> None:
        self.blocks: dict[int, _Block] = {}
        self.id: str | None = None
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.usage: dict[str, Any] = {}

    def on_item(self, event: Any) -> bool:
        kind = event.type
        if kind == "content_block_delta":  # most events: first
            block = self.blocks.get(event.index)
            if block is not None:
                delta = event.delta
                delta_kind = delta.type
                if delta_kind == "text_delta":
                    block.pieces.append(delta.text)
                elif delta_kind == "input_json_delta":
                    block.pieces.append(delta.partial_json)
                elif delta_kind == "thinking_delta":
                    block.pieces.append(delta.thinking)
        elif kind == "content_block_start":
            self.blocks[event.index] = _Block(event.content_block)
        elif kind == "message_start":
            message = event.message
            self.id = message.id
            self.model = message.model
            self._add_usage(message.usage)
        elif kind == "message_delta":
            self.stop_reason = event.delta.stop_reason
            self._add_usage(event.usage)
        return False

    def _add_usage(self, usage: Any) -> None:
        # message_delta counts are cumulative totals: a later value replaces an earlier one;
        # a field left out (None) keeps what message_start said.
        for name in _USAGE_FIELDS:
            value = getattr(usage, name, None)
            if value is not None:
                self.usage[name] = value

    def finish(self, record: CallRecord) -> None:
        stop = self.stop_reason
        record.set_response(self.id, self.model, [stop] if stop else None)
        if self.usage:
            record_usage(record, self.usage)
        if record.capture:
            ordered = [block for _index, block in sorted(self.blocks.items())]
            message = {
                "role": "assistant",
                "parts": [block.part() for block in ordered],
                "finish_reason": stop or "",
            }
            record.set_content(attr.GEN_AI_OUTPUT_MESSAGES, [message], "outputs")
            record.set_outputs(
                {
                    "id": self.id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [block.as_output() for block in ordered],
                    "stop_reason": stop,
                    "usage": plain(self.usage),
                }
            )


def record_usage(record: CallRecord, usage: Any) -> None:
    """An Anthropic usage (object or dict) as the call's token counts."""
    total, read, written = msg.total_input(usage)
    record.set_usage(
        total,
        msg.as_int(get(usage, "output_tokens")),
        cache_read=read,
        cache_write=written,
        reasoning=msg.thinking_tokens(usage),
    )
