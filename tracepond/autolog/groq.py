"""Autolog for the ``groq`` package (0.11 and later, tested with 1.7).

Patched at class level (sync and async resources), so clients created before ``autolog()`` are
traced too; ``with_raw_response`` / ``with_streaming_response`` call the same methods:

========================================  ==================  ============  ==========
method                                    operation           span type     streams
========================================  ==================  ============  ==========
``chat.completions.create``               ``chat``            CHAT_MODEL    yes
``audio.transcriptions.create``           ``transcription``   LLM           no
``audio.translations.create``             ``translation``     LLM           no
``embeddings.create``                     ``embeddings``      EMBEDDING     no
========================================  ==================  ============  ==========

Groq's chat API has OpenAI's shapes, so this module reuses the OpenAI autologger's pieces that
do not import openai: the message conversion (:mod:`~tracepond.autolog.chat_completions.messages`), the
chat stream accumulator and usage reader (:mod:`~tracepond.autolog.chat_completions.streams`) and the raw
response proxy (:mod:`~tracepond.autolog.chat_completions.results`). What is Groq's own: provider
``groq``, and the usage of a stream, which Groq sends in ``x_groq.usage`` of its last chunk
(recorded with ``tracepond.usage.source = 'x_groq'``). Audio files are never recorded, only
their name and size.
"""

from __future__ import annotations

from typing import Any

from tracepond.autolog.chat_completions import messages as msg
from tracepond.autolog.chat_completions.request import CompatibleOperation
from tracepond.autolog.chat_completions.results import TracedRawResponse
from tracepond.autolog.chat_completions.streams import (
    ChatStreamAccumulator,
    record_chat_request,
    record_chat_response,
)
from tracepond.autolog.patching import Patcher
from tracepond.autolog.provider import AutologOptions, CallRecord, make_wrapper
from tracepond.autolog.stream import StreamAccumulator, wrap_stream
from tracepond.conventions import attributes as attr
from tracepond.conventions.span_types import SpanType

NAME = "groq"
PACKAGE = "groq"
INSTALL_HINT = 'pip install "tracepond[groq]"'


class GroqOperation(CompatibleOperation):
    """What every groq call records; subclasses add their request and response details."""

    provider_name = "groq"
    where = "autolog.groq"
    streams = False
    not_inputs = frozenset({"extra_headers", "extra_query", "timeout"})
    raw_types: tuple[type, ...] = ()

    def __init__(self, *, is_async: bool) -> None:
        super().__init__(is_async=is_async)
        from groq import AsyncStream, Stream
        from groq._response import APIResponse, AsyncAPIResponse

        self.stream_types = (Stream, AsyncStream)
        self.raw_types = (APIResponse, AsyncAPIResponse)

    def handle_result(self, record: CallRecord, result: Any) -> Any:
        if isinstance(result, self.raw_types):  # with_raw_response / with_streaming_response
            return TracedRawResponse(result, self, record)
        if self.is_stream(record, result):
            return wrap_stream(result, record, self.stream_accumulator(record))
        try:
            self.response(record, result)
        finally:
            record.end()
        return result


# --- chat ---------------------------------------------------------------------------------------


class GroqChat(GroqOperation):
    operation_name = "chat"
    span_type = SpanType.CHAT_MODEL
    where = "autolog.groq.chat"
    streams = True

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        record_chat_request(record, kwargs)

    def response(self, record: CallRecord, result: Any) -> None:
        record_chat_response(record, result)

    def stream_accumulator(self, record: CallRecord) -> StreamAccumulator:
        return GroqChatStreamAccumulator()


class GroqChatStreamAccumulator(ChatStreamAccumulator):
    """OpenAI's chat accumulator, plus Groq's usage in ``x_groq.usage`` of the last chunk."""

    __slots__ = ("groq_usage",)

    def __init__(self) -> None:
        super().__init__(hide_usage=False)
        self.groq_usage: Any = None

    def on_item(self, chunk: Any) -> bool:
        x_groq = getattr(chunk, "x_groq", None)
        if x_groq is not None:
            usage = getattr(x_groq, "usage", None)
            if usage is not None:
                self.groq_usage = usage
        return super().on_item(chunk)

    def finish(self, record: CallRecord) -> None:
        from_groq = self.usage is None and self.groq_usage is not None
        if from_groq:
            self.usage = self.groq_usage
        super().finish(record)
        if from_groq:
            record.usage_source = "x_groq"


# --- audio and embeddings -------------------------------------------------------------------------


class GroqAudio(GroqOperation):
    """``audio.transcriptions.create`` / ``audio.translations.create``: the text heard."""

    span_type = SpanType.LLM

    def inputs_of(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        inputs = super().inputs_of(kwargs)
        if "file" in inputs:
            inputs["file"] = _describe_file(inputs["file"])
        return inputs

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        response_format = kwargs.get("response_format")
        if response_format == "text":
            record.attributes[attr.GEN_AI_OUTPUT_TYPE] = "text"
        elif isinstance(response_format, str):
            record.attributes[attr.GEN_AI_OUTPUT_TYPE] = "json"

    def response(self, record: CallRecord, result: Any) -> None:
        text = result if isinstance(result, str) else getattr(result, "text", None)
        x_groq = getattr(result, "x_groq", None)
        request_id = x_groq.get("id") if isinstance(x_groq, dict) else getattr(x_groq, "id", None)
        record.set_response(request_id if isinstance(request_id, str) else None, None)
        if record.capture and isinstance(text, str):
            message = {"role": "assistant", "parts": [msg.text_part(text)]}
            record.set_content(attr.GEN_AI_OUTPUT_MESSAGES, [message], "outputs")
            record.set_outputs(result)


class GroqTranscription(GroqAudio):
    operation_name = "transcription"
    where = "autolog.groq.transcription"


class GroqTranslation(GroqAudio):
    operation_name = "translation"
    where = "autolog.groq.translation"


def _describe_file(file: Any) -> Any:
    """An upload as name and size, never its bytes (``file`` is bytes, a tuple, a path, a file)."""
    if isinstance(file, (bytes, bytearray)):
        return {"bytes": len(file)}
    if isinstance(file, tuple) and file:
        name = file[0]
        content = file[1] if len(file) > 1 else None
        size = len(content) if isinstance(content, (bytes, bytearray)) else None
        return {"filename": name, "bytes": size}
    name = getattr(file, "name", None)
    return {"filename": str(name) if name is not None else str(file)}


class GroqEmbeddings(GroqOperation):
    operation_name = "embeddings"
    span_type = SpanType.EMBEDDING
    where = "autolog.groq.embeddings"

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        encoding = kwargs.get("encoding_format")
        if isinstance(encoding, str):
            record.attributes[attr.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]

    def response(self, record: CallRecord, result: Any) -> None:
        record.set_response(None, getattr(result, "model", None))
        usage = getattr(result, "usage", None)
        if usage is not None:
            record.set_usage(getattr(usage, "prompt_tokens", None), None)
        data = getattr(result, "data", None) or ()
        first = getattr(data[0], "embedding", None) if data else None
        if isinstance(first, list):
            record.set(attr.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, len(first))
        if record.capture:  # the vectors are the caller's data, not telemetry: count and size
            sizes = [
                len(e) if isinstance(e, list) else None
                for e in (getattr(d, "embedding", None) for d in data)
            ]
            record.set_outputs(
                {"model": getattr(result, "model", None), "dimensions": sizes, "usage": usage}
            )


# --- patching -------------------------------------------------------------------------------------


def patch(patcher: Patcher, options: AutologOptions) -> None:
    """Install the groq wrappers on ``patcher``."""
    import groq.resources.chat.completions as chat
    from groq.resources.audio import transcriptions, translations

    targets: list[tuple[Any, str, type[GroqOperation]]] = [
        (chat, "Completions", GroqChat),
        (transcriptions, "Transcriptions", GroqTranscription),
        (translations, "Translations", GroqTranslation),
    ]
    try:
        from groq.resources import embeddings
    except ImportError:  # a groq release without embeddings
        pass
    else:
        targets.append((embeddings, "Embeddings", GroqEmbeddings))
    for module, class_name, operation in targets:
        for prefix, is_async in (("", False), ("Async", True)):
            cls = getattr(module, prefix + class_name, None)
            if cls is not None:
                patcher.wrap(cls, "create", make_wrapper(operation(is_async=is_async), options))
