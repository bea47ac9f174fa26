"""Autolog for the ``openai`` package (1.40 and later, tested with 3.57).

Patched at class level, so clients created before ``autolog()`` are traced too:

========================================  =======================  ============  ==========
method (sync and async clients)            operation                span type     streams
========================================  =======================  ============  ==========
``chat.completions.create``                ``chat``                 CHAT_MODEL    yes
``chat.completions.parse``                 ``chat``                 CHAT_MODEL    no
``responses.create``                       ``chat``                 CHAT_MODEL    yes
``responses.parse``                        ``chat``                 CHAT_MODEL    no
``embeddings.create``                      ``embeddings``           EMBEDDING     no
``completions.create`` (legacy)            ``text_completion``      LLM           yes
========================================  =======================  ============  ==========

``chat.completions.stream(...)`` and ``responses.stream(...)`` call ``create(stream=True)``
and are traced through it; their stream objects' ``close()`` is patched too, because those
helpers close the HTTP response directly rather than the stream we hand them.
``with_raw_response`` / ``with_streaming_response`` go through the same methods (see
:mod:`tracepond.autolog.chat_completions.results`); those wrappers are cached per resource object, so
one that the app created before ``autolog()`` keeps calling the unpatched method.
``AzureOpenAI`` clients are recorded with provider ``azure.ai.openai``.

This module does not import openai itself: ``patch()`` does, once autolog knows it is installed.
"""

from __future__ import annotations

from typing import Any

from tracepond.autolog.patching import Patcher
from tracepond.autolog.provider import AutologOptions, Operation, make_wrapper
from tracepond.autolog.stream import finish_stream

NAME = "openai"
PACKAGE = "openai"
INSTALL_HINT = 'pip install "tracepond[openai]"'


def patch(patcher: Patcher, options: AutologOptions) -> None:
    """Install the openai wrappers on ``patcher``."""
    import openai.resources as resources
    import openai.resources.chat as chat

    from tracepond.autolog.openai import operations as ops

    targets: list[tuple[Any, str, type[Operation]]] = [
        (chat, "Completions", ops.ChatCompletions),
        (resources, "Completions", ops.TextCompletions),
        (resources, "Embeddings", ops.Embeddings),
    ]
    responses = _optional_module("openai.resources.responses")
    if responses is not None:
        targets.append((responses, "Responses", ops.Responses))
    for module, class_name, operation in targets:
        for prefix, is_async in (("", False), ("Async", True)):
            cls = getattr(module, prefix + class_name, None)
            if cls is None:
                continue
            wrapper = make_wrapper(operation(is_async=is_async), options)
            patcher.wrap(cls, "create", wrapper)
            if operation in (ops.ChatCompletions, ops.Responses):
                patcher.wrap(
                    cls, "parse", make_wrapper(operation(is_async=is_async), options), optional=True
                )
    _patch_stream_helpers(patcher)


def _optional_module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:  # an openai older than the Responses API
        return None


def _patch_stream_helpers(patcher: Patcher) -> None:
    """``ChatCompletionStream.close()`` / ``ResponseStream.close()`` close the HTTP response,
    not the traced stream inside them: end its span there too."""
    helper_modules = (
        ("openai.lib.streaming.chat", ("ChatCompletionStream", "AsyncChatCompletionStream")),
        ("openai.lib.streaming.responses", ("ResponseStream", "AsyncResponseStream")),
    )
    for module_name, (sync_name, async_name) in helper_modules:
        module = _optional_module(module_name)
        if module is None:
            continue
        if hasattr(module, sync_name):
            patcher.wrap(module, f"{sync_name}.close", _close_helper)
        if hasattr(module, async_name):
            patcher.wrap(module, f"{async_name}.close", _aclose_helper)


def _close_helper(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        return wrapped(*args, **kwargs)
    finally:
        finish_stream(getattr(instance, "_raw_stream", None))


async def _aclose_helper(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        finish_stream(getattr(instance, "_raw_stream", None))
