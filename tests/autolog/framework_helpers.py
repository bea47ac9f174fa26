"""What the agent-framework tests (Agents SDK, LangChain) share: the provider errors they run
into, the stand-in server whose streams go bad, and the check that tracing changed nothing."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tracepond.testing import FakeOpenAIServer
from tracepond.testing.server import RecordedRequest, Reply

# (HTTP status, the openai exception it becomes, response headers): 4xx, 5xx, 429 + retry-after.
PROVIDER_ERRORS = pytest.mark.parametrize(
    ("status", "error", "headers"),
    [
        (400, openai.BadRequestError, {}),
        (500, openai.InternalServerError, {}),
        (429, openai.RateLimitError, {"retry-after": "7"}),
    ],
)


def assert_retry_after(raised: BaseException, headers: dict[str, str]) -> None:
    if headers:
        assert raised.response.headers["retry-after"] == "7"  # type: ignore[attr-defined]


def assert_same_exception(untraced: BaseException, traced: BaseException) -> None:
    """Traced, the caller gets what it got untraced: the same type and message."""
    assert type(traced) is type(untraced)
    assert str(traced) == str(untraced)


class MalformedStreamServer(FakeOpenAIServer):
    """Streams answers whose event after the first ``good`` ones is not JSON."""

    def __init__(self, good: int, bad_frame: bytes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.good = good
        self.bad_frame = bad_frame

    def answer(self, request: RecordedRequest) -> Reply:
        reply = super().answer(request)
        if reply.chunks is not None:
            reply.chunks = [*list(reply.chunks)[: self.good], self.bad_frame]
        return reply
