"""aiobotocore's bedrock-runtime client: the same four operations, awaited.

Converse and the two streams share the sync operations (the provider's async shell awaits the
call; ``wrap_stream`` sees aiobotocore's ``AioEventStream`` is async-iterable). ``invoke_model``
differs: its body can only be read with ``await``, so the call itself is wrapped to buffer the
body before the span's result handling sees it, and the caller gets an ``AioStreamingBody`` (the
class it would get untraced) over the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from tracepond.autolog import bedrock
from tracepond.autolog.provider import CallRecord


class _BufferedContent:
    """What ``AioStreamingBody`` reads from (aiohttp's ``StreamReader`` surface it uses)."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)
        self._size = len(data)

    async def read(self, n: int = -1) -> bytes:
        return self._buffer.read(n if n >= 0 else -1)

    def at_eof(self) -> bool:
        return self._buffer.tell() >= self._size


class BufferedResponse:
    """The raw response under a buffered body: the bytes, or the error reading them raised."""

    def __init__(self, data: bytes, url: Any, error: BaseException | None = None) -> None:
        self.data = data
        self.error = error
        self.url = url
        self.content = _BufferedContent(data)
        if error is not None:
            self.content.read = self._raise  # type: ignore[method-assign]

    async def _raise(self, n: int = -1) -> bytes:
        assert self.error is not None
        raise self.error

    def close(self) -> None:
        """Nothing to release: the connection went back to the pool once the body was read."""


async def buffer_body(wrapped: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``invoke_model`` and read its body, so the result can be recorded synchronously."""
    from aiobotocore.response import AioStreamingBody

    result = await wrapped(*args, **kwargs)
    body = result.get("body") if isinstance(result, dict) else None
    if body is None:
        return result
    url = getattr(getattr(body, "raw_stream", None), "url", None)
    try:
        data = await body.read()
    except Exception as exc:  # the caller meets the same error on its own read()
        bedrock._close_quietly(body)  # the caller can no longer reach it to close it
        result["body"] = AioStreamingBody(BufferedResponse(b"", url, exc), None)
        return result
    result["body"] = AioStreamingBody(BufferedResponse(data, url), len(data))
    return result


class AsyncInvokeOperation(bedrock.InvokeOperation):
    """Records the body :func:`buffer_body` read (the dispatcher routes the call through it)."""

    def handle_result(self, record: CallRecord, result: Any) -> Any:
        raw = getattr(result.get("body"), "raw_stream", None) if isinstance(result, dict) else None
        if not isinstance(raw, BufferedResponse):
            record.end()
            return result
        if raw.error is not None:
            record.fail(raw.error)
            return result
        bedrock.record_invoke_body(record, result, raw.data)
        return result


ASYNC_OPERATIONS: dict[str, Callable[..., bedrock.BedrockOperation]] = {
    "Converse": bedrock.ConverseOperation,
    "ConverseStream": bedrock.ConverseStreamOperation,
    "InvokeModel": AsyncInvokeOperation,
    "InvokeModelWithResponseStream": bedrock.InvokeStreamOperation,
}
# Operations whose call goes through an adapter: (wrapped, *args) -> awaitable result.
ASYNC_CALL_ADAPTERS = {"InvokeModel": buffer_body}
