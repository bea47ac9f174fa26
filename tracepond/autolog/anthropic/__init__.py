"""Autolog for the ``anthropic`` package (tested with 2.16).

Patched at class level (sync and async resources, the Messages API and its beta), so clients
created before ``autolog()`` are traced too:

======================================  ===========  ============  =================================
method                                  operation    span type     streams
======================================  ===========  ============  =================================
``messages.create``                     ``chat``     CHAT_MODEL    with ``stream=True``
``messages.parse``                      ``chat``     CHAT_MODEL    no
``messages.stream(...)``                ``chat``     CHAT_MODEL    yes: the span starts on ``with``
``beta.messages.create/parse/stream``   ``chat``     CHAT_MODEL    as above
======================================  ===========  ============  =================================

Every stream ends its span once, on every way out (see :mod:`tracepond.autolog.stream`); the
``stream()`` helper's ``close()`` (which its ``with`` block calls) is patched too, because it
closes the HTTP response rather than the event iterator that the span follows.
The SDK's own OpenTelemetry span of a call (anthropic 2.x makes one on the app's global
provider) stays the app's, except inside a call tracepond traces when it would be a duplicate
(``configure(use_global_provider=True)``: made non-recording, the request still carries the trace
context) or would record nothing (no SDK provider in the app: left out, so the request goes out as
it does untraced); see :mod:`~tracepond.autolog.anthropic.sdk_spans`.
``with_raw_response`` / ``with_streaming_response`` call ``create`` and are traced through it;
those wrappers are cached per resource object, so one that the app created before
``autolog()`` keeps calling the unpatched method.

``AnthropicBedrock`` calls are recorded with provider ``aws.bedrock`` (priced from the Bedrock
table), ``AnthropicVertex`` calls with ``gcp.vertex_ai`` (no built-in price: Vertex bills
Claude per region and endpoint, and a wrong cost is worse than none). Pieces:
:mod:`~tracepond.autolog.anthropic.messages` (content blocks -> the conventions' JSON; imports no
anthropic), :mod:`~tracepond.autolog.anthropic.streams` (the stream accumulator),
:mod:`~tracepond.autolog.anthropic.operations` (what each call records).
"""

from __future__ import annotations

from typing import Any

from tracepond.autolog.patching import Patcher
from tracepond.autolog.provider import AutologOptions, make_wrapper
from tracepond.autolog.stream import helper_close_wrappers

NAME = "anthropic"
PACKAGE = "anthropic"
INSTALL_HINT = 'pip install "tracepond[anthropic]"'


def patch(patcher: Patcher, options: AutologOptions) -> None:
    """Install the anthropic wrappers on ``patcher``."""
    import anthropic._base_client as base_client
    import anthropic.lib.streaming._beta_messages as beta_helpers
    import anthropic.lib.streaming._messages as helpers
    import anthropic.resources.beta.messages.messages as beta_messages
    import anthropic.resources.messages.messages as messages

    from tracepond.autolog.anthropic import operations as ops
    from tracepond.autolog.anthropic import sdk_spans

    for module in (messages, beta_messages):
        for cls, is_async in ((module.Messages, False), (module.AsyncMessages, True)):
            patcher.wrap(
                cls, "create", make_wrapper(ops.MessagesCreate(is_async=is_async), options)
            )
            patcher.wrap(
                cls,
                "parse",
                make_wrapper(ops.MessagesCreate(is_async=is_async), options),
                optional=True,
            )
            patcher.wrap(
                cls,
                "stream",
                ops.stream_helper_wrapper(ops.MessagesStream(is_async=is_async), options),
            )
    closers: list[tuple[type, Any]] = [
        (helpers.MessageStream, _close_helper),
        (beta_helpers.BetaMessageStream, _close_helper),
        (helpers.AsyncMessageStream, _aclose_helper),
        (beta_helpers.BetaAsyncMessageStream, _aclose_helper),
    ]
    for helper, closer in closers:
        patcher.wrap(helper, "close", closer)
    # anthropic 2.x's own span of each call (see sdk_spans)
    patcher.wrap(base_client, "start_api_call_span", sdk_spans.sdk_span_wrapper, optional=True)


# The helper's close() closes the HTTP response; the span follows the helper's _iterator.
_close_helper, _aclose_helper = helper_close_wrappers("_iterator")
