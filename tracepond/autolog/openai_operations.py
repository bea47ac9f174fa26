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
:mod:`tracepond.autolog.openai_results`). This module imports openai: only ``patch()`` loads it.
"""

from __future__ import annotations

from typing import Any

import openai
from openai import AsyncStream, Stream

from tracepond.autolog import openai_messages as msg
from tracepond.autolog.content import plain
from tracepond.autolog.openai_results import handle_openai_result
from tracepond.autolog.openai_streams import (
    ChatStreamAccumulator,
    CompletionStreamAccumulator,
    ResponsesStreamAccumulator,
    record_chat_request,
    record_chat_response,
    record_chat_usage,
    record_response_object,
)
from tracepond.autolog.provider import CallRecord, Operation
from tracepond.autolog.stream import StreamAccumulator
from tracepond.tracing import attributes as attr
from tracepond.tracing.span_types import SpanType

# kwargs that never go into tracepond.inputs: transport details, where credentials hide.
_NOT_INPUTS = frozenset({"extra_headers", "timeout"})

# request kwarg -> attribute, for the parameters the conventions name.
_PARAMETERS = {
    "max_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "max_output_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": attr.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": attr.GEN_AI_REQUEST_TOP_P,
    "frequency_penalty": attr.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": attr.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": attr.GEN_AI_REQUEST_SEED,
}
_PRIMITIVE = (int, float, str, bool)

_AZURE_CLIENTS = (openai.AzureOpenAI, openai.AsyncAzureOpenAI)
_server_cache: dict[int, tuple[Any, str | None, int | None]] = {}


def server_of(client: Any) -> tuple[str | None, int | None]:
    """(host, port) of the client's base URL, cached per client while its URL is unchanged."""
    # _base_url is what the base_url property returns: read directly, it costs 20x less.
    base_url = getattr(client, "_base_url", None) or getattr(client, "base_url", None)
    cached = _server_cache.get(id(client))
    if cached is not None and cached[0] is base_url:
        return cached[1], cached[2]
    host = getattr(base_url, "host", None) or None
    port = getattr(base_url, "port", None)
    if port is None and host is not None:
        port = 443 if getattr(base_url, "scheme", "https") == "https" else 80
    if len(_server_cache) > 256:
        _server_cache.clear()
    _server_cache[id(client)] = (base_url, host, port)
    return host, port


def inputs_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request as the caller made it, minus transport details (the serializer drops
    openai's NOT_GIVEN / omit sentinels and redacts secret-looking keys)."""
    return {
        key: value
        for key, value in kwargs.items()
        if key not in _NOT_INPUTS and not (value is None and key.startswith("extra_"))
    }


class OpenAIOperation(Operation):
    """What every openai call records; subclasses add their request and response details."""

    provider_name = "openai"
    where = "autolog.openai"
    streams = True  # gen_ai.request.stream is recorded for operations that can stream
    stream_types: tuple[type, ...] = (Stream, AsyncStream)

    def request(self, record: CallRecord) -> None:
        kwargs = record.kwargs
        attributes = record.attributes
        client = getattr(record.instance, "_client", None)
        if isinstance(client, _AZURE_CLIENTS):
            record.provider = "azure.ai.openai"
        host, port = server_of(client)
        if host is not None:
            attributes[attr.SERVER_ADDRESS] = host
            if port is not None:
                attributes[attr.SERVER_PORT] = port
        model = kwargs.get("model")
        if isinstance(model, str):
            record.request_model = model
        for key, name in _PARAMETERS.items():
            value = kwargs.get(key)
            if isinstance(value, _PRIMITIVE):
                attributes[name] = value
        if self.streams:
            record.stream = kwargs.get("stream") is True
            attributes[attr.GEN_AI_REQUEST_STREAM] = record.stream
        self.request_details(record, kwargs)
        if record.capture:
            record.set_inputs(inputs_of(kwargs))

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        """Operation-specific request attributes and content."""

    def is_stream(self, record: CallRecord, result: Any) -> bool:
        return isinstance(result, self.stream_types)

    def handle_result(self, record: CallRecord, result: Any) -> Any:
        return handle_openai_result(self, record, result)

    def error(self, record: CallRecord, exc: BaseException) -> None:
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            record.set(attr.HTTP_RESPONSE_STATUS_CODE, status)


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
