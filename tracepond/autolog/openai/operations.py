"""The strategies behind the openai autologger: what each kind of call records.

- :class:`ChatCompletions`: ``chat.completions.create`` / ``parse`` (and the ``stream()`` helper,
  which calls ``create``): operation ``chat``, span type CHAT_MODEL.
- :class:`Responses`: ``responses.create`` / ``parse`` (and ``responses.stream()``): ``chat``.
- :class:`Embeddings`: ``embeddings.create``: ``embeddings``, EMBEDDING. The vectors are not
  stored, only how many and their size.
- :class:`TextCompletions`: legacy ``completions.create``: ``text_completion``, LLM.

Every one records the request (model, parameters, ``gen_ai.request.stream``, server address and
port, messages in the conventions' format, system instructions, tool definitions, and the request
kwargs as ``tracepond.inputs`` without ``extra_headers``), the response (id, model, finish reasons,
usage with cached and reasoning tokens, output messages, ``tracepond.outputs``), and handles the
result types of ``with_raw_response`` / ``with_streaming_response`` (see
:mod:`tracepond.autolog.chat_completions.results`). This module imports openai: only ``patch()`` loads it.
"""

from __future__ import annotations

from typing import Any

import openai
from openai import AsyncStream, Stream

from tracepond.autolog.chat_completions import messages as msg
from tracepond.autolog.chat_completions.request import CompatibleOperation
from tracepond.autolog.chat_completions.results import handle_openai_result
from tracepond.autolog.chat_completions.streams import (
    ChatStreamAccumulator,
    CompletionStreamAccumulator,
    ResponsesStreamAccumulator,
    record_chat_request,
    record_chat_response,
    record_chat_usage,
    record_response_object,
)
from tracepond.autolog.content import plain
from tracepond.autolog.provider import CallRecord
from tracepond.autolog.stream import StreamAccumulator
from tracepond.conventions import attributes as attr
from tracepond.conventions.span_types import SpanType

_AZURE_CLIENTS = (openai.AzureOpenAI, openai.AsyncAzureOpenAI)


class OpenAIOperation(CompatibleOperation):
    """What every openai call records; subclasses add their request and response details."""

    provider_name = "openai"
    where = "autolog.openai"
    stream_types: tuple[type, ...] = (Stream, AsyncStream)

    def client_details(self, record: CallRecord, client: Any) -> None:
        if isinstance(client, _AZURE_CLIENTS):
            record.provider = "azure.ai.openai"

    def handle_result(self, record: CallRecord, result: Any) -> Any:
        return handle_openai_result(self, record, result)


class ChatCompletions(OpenAIOperation):
    operation_name = "chat"
    span_type = SpanType.CHAT_MODEL
    where = "autolog.openai.chat"

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        record_chat_request(record, kwargs)
        output_type = _output_type(kwargs.get("response_format"))
        if output_type:
            record.attributes[attr.GEN_AI_OUTPUT_TYPE] = output_type
        if record.stream and record.options.stream_usage:
            _ask_for_usage(record, kwargs)

    def response(self, record: CallRecord, result: Any) -> None:
        record_chat_response(record, result)

    def stream_accumulator(self, record: CallRecord) -> StreamAccumulator:
        return ChatStreamAccumulator(hide_usage=bool(record.extra.get("usage_injected")))


def _ask_for_usage(record: CallRecord, kwargs: dict[str, Any]) -> None:
    """stream_usage=True: ask for the usage chunk unless the caller said anything about it."""
    options = kwargs.get("stream_options")
    if isinstance(options, dict) and "include_usage" in options:
        return  # the caller decided, either way
    if options is not None and not isinstance(options, dict) and not _is_sentinel(options):
        return  # something we do not understand: leave the request alone
    merged = dict(options) if isinstance(options, dict) else {}
    merged["include_usage"] = True
    record.kwargs = {**kwargs, "stream_options": merged}
    record.extra["usage_injected"] = True


# NOT_GIVEN's class, and Omit where this openai has it (added during 1.x).
_SENTINELS = tuple(
    cls for cls in (getattr(openai, "NotGiven", None), getattr(openai, "Omit", None)) if cls
)


def _is_sentinel(value: Any) -> bool:
    return isinstance(value, _SENTINELS)


def _output_type(response_format: Any) -> str | None:
    kind = msg.get(response_format, "type") if response_format is not None else None
    if kind in ("json_object", "json_schema"):
        return "json"
    if kind == "text":
        return "text"
    if isinstance(response_format, type):  # parse(response_format=PydanticModel)
        return "json"
    return None


class Responses(OpenAIOperation):
    operation_name = "chat"
    span_type = SpanType.CHAT_MODEL
    where = "autolog.openai.responses"

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        text = kwargs.get("text")
        text_format = msg.get(text, "format") if text is not None else None
        output_type = _output_type(text_format) or _output_type(kwargs.get("text_format"))
        if output_type:
            record.attributes[attr.GEN_AI_OUTPUT_TYPE] = output_type
        conversation = kwargs.get("conversation")
        if isinstance(conversation, str):
            record.attributes[attr.GEN_AI_CONVERSATION_ID] = conversation
        if record.capture:
            record.set_content(
                attr.GEN_AI_INPUT_MESSAGES, msg.responses_input_messages(kwargs.get("input"))
            )
            instructions = msg.instructions(kwargs.get("instructions"))
            if instructions:
                record.set_content(attr.GEN_AI_SYSTEM_INSTRUCTIONS, instructions)
            tools = msg.tool_definitions(kwargs.get("tools"))
            if tools:
                record.set_content(attr.GEN_AI_TOOL_DEFINITIONS, tools)

    def response(self, record: CallRecord, result: Any) -> None:
        record_response_object(record, result)
        if record.capture:
            record.set_outputs(result)

    def stream_accumulator(self, record: CallRecord) -> StreamAccumulator:
        return ResponsesStreamAccumulator()


class Embeddings(OpenAIOperation):
    operation_name = "embeddings"
    span_type = SpanType.EMBEDDING
    where = "autolog.openai.embeddings"
    streams = False

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        encoding = kwargs.get("encoding_format")
        if isinstance(encoding, str):
            record.attributes[attr.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
        dimensions = kwargs.get("dimensions")
        if isinstance(dimensions, int):
            record.attributes[attr.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions

    def response(self, record: CallRecord, result: Any) -> None:
        record.set_response(None, getattr(result, "model", None))
        usage = getattr(result, "usage", None)
        if usage is not None:
            record.set_usage(getattr(usage, "prompt_tokens", None), None)
        data = getattr(result, "data", None) or ()
        if data:
            first = getattr(data[0], "embedding", None)
            if (
                isinstance(first, list)
                and attr.GEN_AI_EMBEDDINGS_DIMENSION_COUNT not in record.attributes
            ):
                record.set(attr.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, len(first))
        if record.capture:
            # The vectors themselves are the caller's data, not telemetry: count and size only.
            record.set_outputs(
                {
                    "model": getattr(result, "model", None),
                    "data": [
                        {"index": item.index, "dimensions": _length(item.embedding)}
                        for item in data
                    ],
                    "usage": plain(usage),
                }
            )


def _length(embedding: Any) -> int | None:
    try:
        return len(embedding)
    except TypeError:
        return None


class TextCompletions(OpenAIOperation):
    operation_name = "text_completion"
    span_type = SpanType.LLM
    where = "autolog.openai.completions"

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        if record.stream and record.options.stream_usage:
            _ask_for_usage(record, kwargs)
        if record.capture:
            prompt = kwargs.get("prompt")
            prompts = [prompt] if isinstance(prompt, str) else prompt
            if isinstance(prompts, list) and all(isinstance(p, str) for p in prompts):
                messages = [{"role": "user", "parts": [msg.text_part(p)]} for p in prompts]
                record.set_content(attr.GEN_AI_INPUT_MESSAGES, messages)

    def response(self, record: CallRecord, result: Any) -> None:
        choices = getattr(result, "choices", None) or ()
        record.set_response(
            getattr(result, "id", None),
            getattr(result, "model", None),
            [choice.finish_reason or "" for choice in choices],
        )
        record_chat_usage(record, getattr(result, "usage", None))
        if record.capture:
            messages = [
                {
                    "role": "assistant",
                    "parts": [msg.text_part(c.text)],
                    "finish_reason": c.finish_reason or "",
                }
                for c in choices
            ]
            record.set_content(attr.GEN_AI_OUTPUT_MESSAGES, messages, "outputs")
            record.set_outputs(result)

    def stream_accumulator(self, record: CallRecord) -> StreamAccumulator:
        return CompletionStreamAccumulator(hide_usage=bool(record.extra.get("usage_injected")))
