"""The ways a caller leaves a provider's stream, shared by the stream-exit tests.

``leave_sync(stream, exit_path, show)`` / ``leave_async(...)`` take a freshly made provider stream
(an SDK ``Stream`` / ``AsyncStream`` with ``.response``) and leave it one way: ``full`` (read to
the end; also how the fault paths ``drop`` and ``error-event`` are read), ``break`` after two
items, ``close`` after one, ``with`` (one item inside the block), ``gc`` (dropped unread, then
collected). They return what the caller saw (``show(item)`` per item, the stream's class name,
any exception's type and text), so an untraced and a traced run can be compared. ``EXITS`` says
what each way out leaves on the span: ``tracepond.stream.outcome`` and the status. Pass the stream
as the call's argument, unnamed, so that ``gc`` drops the last reference to it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import StatusCode

READ_TO_THE_END = ("full", "drop", "error-event")
# way out -> (tracepond.stream.outcome, span status)
EXITS = {
    "full": ("complete", StatusCode.OK),
    "break": ("stopped", StatusCode.OK),
    "close": ("closed", StatusCode.OK),
    "with": ("closed", StatusCode.OK),
    "gc": ("abandoned", StatusCode.OK),
    "drop": ("error", StatusCode.ERROR),
}


def leave_sync(stream: Any, exit_path: str, show: Callable[[Any], Any]) -> list[Any]:
    seen: list[Any] = [stream.__class__.__name__]
    try:
        if exit_path in READ_TO_THE_END:
            seen.extend(show(item) for item in stream)
        elif exit_path == "break":
            for item in stream:
                seen.append(show(item))
                if len(seen) == 3:
                    break
            stream.response.close()  # a tidy caller releases the connection
        elif exit_path == "close":
            seen.append(show(next(stream)))
            stream.close()
        elif exit_path == "with":
            with stream as entered:
                seen.append(entered is stream)
                seen.append(show(next(entered)))
        elif exit_path == "gc":
            response = stream.response
            del stream
            gc.collect()
            response.close()
    except Exception as exc:
        seen.append((type(exc), str(exc)))
    return seen


async def leave_async(stream: Any, exit_path: str, show: Callable[[Any], Any]) -> list[Any]:
    seen: list[Any] = [stream.__class__.__name__]
    try:
        if exit_path in READ_TO_THE_END:
            seen.extend([show(item) async for item in stream])
        elif exit_path == "break":
            async for item in stream:
                seen.append(show(item))
                if len(seen) == 3:
                    break
            await stream.response.aclose()
        elif exit_path == "close":
            seen.append(show(await stream.__anext__()))
            await stream.close()
        elif exit_path == "with":
            async with stream as entered:
                seen.append(entered is stream)
                seen.append(show(await entered.__anext__()))
        elif exit_path == "gc":
            response = stream.response
            del stream
            gc.collect()
            await response.aclose()
    except Exception as exc:
        seen.append((type(exc), str(exc)))
    return seen
