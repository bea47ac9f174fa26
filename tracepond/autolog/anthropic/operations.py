"""The strategies behind the anthropic autologger: what a Messages call records.

- :class:`MessagesCreate`: ``messages.create`` (streamed or not) and ``messages.parse``, on the
  Messages API and its beta: operation ``chat``, span type CHAT_MODEL.
- :class:`MessagesStream`: the ``messages.stream(...)`` helper. Its request goes out when its
  manager is entered (``with`` / ``async with``), so that is when the span starts (see
  :func:`stream_helper_wrapper`); the span then follows the helper's own event iterator, so
  iterating events, ``text_stream``, ``until_done()`` and ``get_final_message()`` all count.

Every call records the request (model, ``max_tokens``, ``stop_sequences`` (the 2.x SDK takes no
sampling parameters), ``gen_ai.request.stream``, server address and port, messages, system
instructions and tool definitions in the conventions' format, the request kwargs as
``tracepond.inputs`` without transport details), and the answer (id, model, stop reason, usage
with cache reads and writes and thinking tokens, the output message, ``tracepond.outputs``).
The client decides the provider name: ``aws.bedrock`` for ``AnthropicBedrock`` (and its Mantle
variant), ``gcp.vertex_ai`` for ``AnthropicVertex``, ``anthropic`` otherwise.

``with_raw_response`` / ``with_streaming_response`` return the SDK's ``APIResponse``; it goes back
behind the shared raw-response proxy (:class:`~tracepond.autolog.chat_completions.results.TracedRawResponse`,
provider-neutral), whose ``parse()`` records the message or proxies the stream. This module
imports anthropic: only ``patch()`` loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import wrapt
from anthropic import AsyncStream, Stream
from anthropic._response import APIResponse, AsyncAPIResponse

from tracepond.autolog.anthropic import messages as msg
from tracepond.autolog.anthropic.streams import MessageStreamAccumulator, record_usage
from tracepond.autolog.chat_completions.request import CompatibleOperation
from tracepond.autolog.chat_completions.results import TracedRawResponse
from tracepond.autolog.patching import Wrapper
from tracepond.autolog.provider import AutologOptions, CallRecord, make_wrapper
from tracepond.autolog.stream import StreamAccumulator, wrap_stream
from tracepond.conventions import attributes as attr
from tracepond.conventions.span_types import SpanType

# Client class -> gen_ai.provider.name, for the clients that are not Anthropic's own API.
PLATFORMS: tuple[tuple[tuple[type, ...], str], ...] = (
    (
        (
            anthropic.AnthropicBedrock,
            anthropic.AsyncAnthropicBedrock,
            anthropic.AnthropicBedrockMantle,
            anthropic.AsyncAnthropicBedrockMantle,
        ),
        "aws.bedrock",
    ),
    ((anthropic.AnthropicVertex, anthropic.AsyncAnthropicVertex), "gcp.vertex_ai"),
)
_provider_of_type: dict[type, str] = {}  # memo: a client class is looked up once


def provider_of(client: Any) -> str:
    """The ``gen_ai.provider.name`` of calls made through ``client``."""
    cls = type(client)
    found = _provider_of_type.get(cls)
    if found is None:
        found = next((name for classes, name in PLATFORMS if issubclass(cls, classes)), "anthropic")
        _provider_of_type[cls] = found
    return found


class MessagesCreate(CompatibleOperation):
    """``messages.create`` / ``messages.parse``: one Messages API call."""

    provider_name = "anthropic"
    operation_name = "chat"
    span_type = SpanType.CHAT_MODEL
    where = "autolog.anthropic.messages"
    # transport details, where credentials hide, and with_raw_response's marker header
    not_inputs = frozenset({"extra_headers", "extra_query", "timeout"})
    stream_types: tuple[type, ...] = (Stream, AsyncStream)
    raw_types: tuple[type, ...] = (APIResponse, AsyncAPIResponse)

    def client_details(self, record: CallRecord, client: Any) -> None:
        record.provider = provider_of(client)

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        attributes = record.attributes
        stop = kwargs.get("stop_sequences")
        if isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop):
            attributes[attr.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
        if _asks_for_json(kwargs):
            attributes[attr.GEN_AI_OUTPUT_TYPE] = "json"
        if record.capture:
            record.set_content(
                attr.GEN_AI_INPUT_MESSAGES, msg.input_messages(kwargs.get("messages"))
            )
            system = msg.system_instructions(kwargs.get("system"))
            if system:
                record.set_content(attr.GEN_AI_SYSTEM_INSTRUCTIONS, system)
            tools = msg.tool_definitions(kwargs.get("tools"))
            if tools:
                record.set_content(attr.GEN_AI_TOOL_DEFINITIONS, tools)

    def response(self, record: CallRecord, result: Any) -> None:
        stop = getattr(result, "stop_reason", None)
        record.set_response(
            getattr(result, "id", None), getattr(result, "model", None), [stop] if stop else None
        )
        usage = getattr(result, "usage", None)
        if usage is not None:
            record_usage(record, usage)
        if record.capture:
            message = msg.output_message(getattr(result, "content", None), stop)
            record.set_content(attr.GEN_AI_OUTPUT_MESSAGES, [message], "outputs")
            record.set_outputs(result)

    def stream_accumulator(self, record: CallRecord) -> StreamAccumulator:
        return MessageStreamAccumulator()

    def handle_result(self, record: CallRecord, result: Any) -> Any:
        if isinstance(result, self.raw_types):  # with_raw_response / with_streaming_response
            return TracedRawResponse(result, self, record)
        return super().handle_result(record, result)


def _asks_for_json(kwargs: dict[str, Any]) -> bool:
    """``output_config={"format": {"type": "json_schema", ...}}`` or ``output_format=Model``."""
    if isinstance(kwargs.get("output_format"), type):
        return True
    config = kwargs.get("output_config")
    output_format = config.get("format") if isinstance(config, dict) else None
    return isinstance(output_format, dict) and output_format.get("type") == "json_schema"


class MessagesStream(MessagesCreate):
    """``messages.stream(...)``: what it asks is a create's; what comes back is the helper's
    ``MessageStream``, whose event iterator is put behind the stream proxy."""

    where = "autolog.anthropic.messages.stream"

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        record.stream = True  # the helper always streams; its kwargs have no stream=
        record.attributes[attr.GEN_AI_REQUEST_STREAM] = True
        super().request_details(record, kwargs)

    def handle_result(self, record: CallRecord, result: Any) -> Any:
        # Every way the helper reads (its own iteration, text_stream, until_done,
        # get_final_message) goes through its _iterator, created in __init__ and first read
        # when the caller starts reading: the proxy in its place sees every event, and every
        # error the helper raises while accumulating them.
        result._iterator = wrap_stream(result._iterator, record, MessageStreamAccumulator())
        return result


def stream_helper_wrapper(operation: MessagesStream, options: AutologOptions) -> Wrapper:
    """The wrapper of ``messages.stream``: the manager it returns starts the span on entry."""
    enter = make_wrapper(operation, options)
    manager_class = _AsyncTracedManager if operation.is_async else _TracedManager

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        return manager_class(wrapped(*args, **kwargs), enter, instance, args, kwargs)

    return wrapper


class _ManagerCore(wrapt.ObjectProxy):  # type: ignore[type-arg,misc]
    """A stream manager whose entry runs through the traced shell, with the stream() kwargs."""

    def __init__(
        self,
        wrapped: Any,
        enter: Wrapper,
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        super().__init__(wrapped)
        self._self_enter = enter
        self._self_call = (instance, args, kwargs)


class _TracedManager(_ManagerCore):
    def __enter__(self) -> Any:
        manager = self.__wrapped__
        instance, args, kwargs = self._self_call
        return self._self_enter(lambda *_a, **_k: manager.__enter__(), instance, args, kwargs)

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        return self.__wrapped__.__exit__(exc_type, exc, traceback)


class _AsyncTracedManager(_ManagerCore):
    async def __aenter__(self) -> Any:
        manager = self.__wrapped__
        instance, args, kwargs = self._self_call
        return await self._self_enter(
            lambda *_a, **_k: manager.__aenter__(), instance, args, kwargs
        )

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        return await self.__wrapped__.__aexit__(exc_type, exc, traceback)
