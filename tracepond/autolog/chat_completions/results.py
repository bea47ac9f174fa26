"""What an openai call hands back, traced without changing what the caller gets.

- A parsed object (``ChatCompletion``, ``Response``...): recorded, span ended, returned as is.
- A ``Stream`` / ``AsyncStream``: returned behind the stream proxy (``stream.wrap_stream``).
- ``with_raw_response`` -> ``LegacyAPIResponse``: its body is already read. A non-streamed one is
  parsed here (``parse()`` caches, so the caller's later ``parse()`` returns the very same
  object) and recorded. A streamed one goes back behind :class:`TracedRawResponse`, whose
  ``parse()`` returns the stream behind the stream proxy.
- ``with_streaming_response`` -> ``APIResponse`` / ``AsyncAPIResponse``: the body is not read yet.
  It goes back behind :class:`TracedRawResponse`: ``parse()`` records the result (or proxies the
  stream), and ``close()`` (which the SDK's context manager calls on exit) ends the span if
  nothing else did. A caller that reads raw bytes instead of parsing gets a span without output.

A raw response that is dropped without being closed or parsed ends its span when collected.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

import wrapt

from tracepond.autolog.stream import finish_stream, wrap_stream
from tracepond.errors import log_internal_error

if TYPE_CHECKING:
    from tracepond.autolog.openai.operations import OpenAIOperation
    from tracepond.autolog.provider import CallRecord


@functools.cache
def _openai_response_types() -> tuple[Any, tuple[Any, ...]]:
    """openai's raw response classes, imported on first use: :class:`TracedRawResponse` is shared
    with the Groq autologger, which must import this module without openai installed."""
    from openai._legacy_response import LegacyAPIResponse
    from openai._response import APIResponse, AsyncAPIResponse

    return LegacyAPIResponse, (APIResponse, AsyncAPIResponse)


def handle_openai_result(operation: OpenAIOperation, record: CallRecord, result: Any) -> Any:
    legacy_response, api_responses = _openai_response_types()
    if isinstance(result, legacy_response):
        if record.stream:
            return TracedRawResponse(result, operation, record)
        try:
            parsed = result.parse()
        except Exception:
            # The body does not parse; the caller meets the same error in its own parse().
            record.end()
            return result
        _record_parsed(operation, record, parsed)
        return result
    if isinstance(result, api_responses):
        return TracedRawResponse(result, operation, record)
    if operation.is_stream(record, result):
        return wrap_stream(result, record, operation.stream_accumulator(record))
    _record_parsed(operation, record, result)
    return result


def _record_parsed(operation: Any, record: CallRecord, parsed: Any) -> None:
    try:
        operation.response(record, parsed)
    finally:
        record.end()


class TracedRawResponse(wrapt.ObjectProxy):  # type: ignore[type-arg,misc]
    """A raw openai response whose span ends when it is parsed, closed or collected."""

    def __init__(self, wrapped: Any, operation: Any, record: CallRecord) -> None:
        # operation: any Operation with response/is_stream/stream_accumulator/where (openai's,
        # Groq's)
        super().__init__(wrapped)
        self._self_operation = operation
        self._self_record = record
        self._self_stream: Any = None

    def parse(self, **kwargs: Any) -> Any:
        if kwargs.get("to") is not None or self._self_record.ended:
            return self.__wrapped__.parse(**kwargs)  # a custom type, or the span is over
        if self._self_stream is not None:
            return self._self_stream
        try:
            parsed = self.__wrapped__.parse()
        except BaseException as exc:
            self._self_record.fail(exc)
            raise
        if inspect.isawaitable(parsed):
            return self._self_parse_async(parsed)
        return self._self_take(parsed)

    async def _self_parse_async(self, awaitable: Any) -> Any:
        try:
            parsed = await awaitable
        except BaseException as exc:
            self._self_record.fail(exc)
            raise
        return self._self_take(parsed)

    def _self_take(self, parsed: Any) -> Any:
        """The caller's parsed value: recorded, or a stream handed to the stream proxy."""
        operation, record = self._self_operation, self._self_record
        try:
            if operation.is_stream(record, parsed):
                self._self_stream = wrap_stream(
                    parsed, record, operation.stream_accumulator(record)
                )
                return self._self_stream
            _record_parsed(operation, record, parsed)
        except Exception:
            log_internal_error(f"{operation.where}.raw_response")
            record.end()
        return parsed

    def close(self) -> Any:
        try:
            result = self.__wrapped__.close()
        except BaseException:
            self._self_settle()
            raise
        if inspect.isawaitable(result):
            return self._self_close_async(result)
        self._self_settle()
        return result

    async def _self_close_async(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        finally:
            self._self_settle()

    def _self_settle(self) -> None:
        if self._self_stream is not None:
            finish_stream(self._self_stream, "closed")
        else:
            self._self_record.end()

    def __del__(self) -> None:
        if self._self_stream is None and not self._self_record.ended:
            self._self_record.end()
