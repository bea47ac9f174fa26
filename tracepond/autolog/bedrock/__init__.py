"""Autolog for AWS Bedrock (boto3 ``bedrock-runtime``; aiobotocore's too when installed).

botocore builds each client class at runtime, so there is no stable ``BedrockRuntime.converse``
to patch. Every operation method of every client goes through ``BaseClient._make_api_call(
operation_name, api_params)``: that is the one instrumentation point, and patching it traces
clients created before ``autolog()`` as well as after. The wrapper returns at once, with two
cheap checks, for any other client (S3, DynamoDB...) and any other Bedrock operation.

Traced: ``Converse``, ``ConverseStream``, ``InvokeModel``, ``InvokeModelWithResponseStream``.

- Streams: ``response["stream"]`` (Converse) and ``response["body"]`` (invoke) are botocore
  ``EventStream`` objects; they come back behind the shared stream proxy, so the span ends on
  every way out (full iteration, ``break``, ``close()``, GC, an error mid-stream).
- ``invoke_model``: the response body is read here and replaced by a ``StreamingBody`` of the
  same class over the same bytes, so the caller's ``read()``, ``iter_lines()``, ``iter_chunks()``
  behave as untraced. Usage comes from the body, else from the
  ``x-amzn-bedrock-input-token-count`` / ``-output-token-count`` response headers.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tracepond.autolog.bedrock import bodies, families
from tracepond.autolog.patching import Patcher, Wrapper
from tracepond.autolog.provider import AutologOptions, CallRecord, Operation, make_wrapper
from tracepond.autolog.stream import wrap_stream
from tracepond.conventions import attributes as attr

NAME = "bedrock"
PACKAGE = "botocore"
INSTALL_HINT = 'pip install "tracepond[bedrock]"'
PROVIDER = "aws.bedrock"
SERVICE = "bedrock-runtime"
_CLIENT_CLASS = "BedrockRuntime"  # botocore names the generated class after the service id


# --- what every Bedrock call records ----------------------------------------------------------


class BedrockOperation(Operation):
    """Shared request side: model id, server, parameters; content written once the call ends."""

    provider_name = PROVIDER
    operation_name = "chat"
    span_type = "CHAT_MODEL"
    where = "autolog.bedrock"
    streams = False

    def request(self, record: CallRecord) -> None:
        params = _api_params(record)
        model_id = params.get("modelId")
        ref = bodies.parse_model_id(model_id) if isinstance(model_id, str) else None
        record.request_model = ref.model if ref else None
        record.stream = self.streams
        record.extra["params"] = params
        record.extra["ref"] = ref
        chat = self.read_request(record, params, ref)
        record.extra["chat"] = chat
        attributes = record.attributes
        attributes.update(chat.params)
        attributes[attr.GEN_AI_REQUEST_STREAM] = self.streams
        if chat.guardrail_id:
            attributes[attr.AWS_BEDROCK_GUARDRAIL_ID] = chat.guardrail_id
        host, port = _server(getattr(getattr(record.instance, "meta", None), "endpoint_url", None))
        if host:
            attributes[attr.SERVER_ADDRESS] = host
            attributes[attr.SERVER_PORT] = port

    def read_request(
        self, record: CallRecord, params: dict[str, Any], ref: bodies.ModelRef | None
    ) -> bodies.ChatRequest:
        return bodies.converse_request(params, content=False)

    def read_content(self, record: CallRecord) -> bodies.ChatRequest:
        """Messages, system and tools, read once the call is over (off the request's path)."""
        return bodies.converse_content(record.extra["params"])

    def error(self, record: CallRecord, exc: BaseException) -> None:
        write_request_content(record)
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
            record.set(attr.HTTP_RESPONSE_STATUS_CODE, status if isinstance(status, int) else None)


def _api_params(record: CallRecord) -> dict[str, Any]:
    params = record.args[1] if len(record.args) > 1 else record.kwargs.get("api_params")
    return params if isinstance(params, dict) else {}


@functools.lru_cache(maxsize=64)
def _server(endpoint_url: str | None) -> tuple[str | None, int | None]:
    if not isinstance(endpoint_url, str):
        return None, None
    parts = urlsplit(endpoint_url)
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def write_request_content(record: CallRecord) -> None:
    """Inputs, messages, instructions and tools: written once, when the call's outcome is known
    (the request itself is sent first, so tracing adds nothing before it leaves)."""
    if record.extra.get("request_written") or not record.capture:
        return
    record.extra["request_written"] = True
    chat: bodies.ChatRequest = record.operation.read_content(record)  # type: ignore[attr-defined]
    params = record.extra["params"]
    body = record.extra.get("body_json")
    record.set_inputs({**params, "body": body} if body is not None else params)
    record.set_content(attr.GEN_AI_INPUT_MESSAGES, chat.messages or None)
    record.set_content(attr.GEN_AI_SYSTEM_INSTRUCTIONS, chat.system or None)
    record.set_content(attr.GEN_AI_TOOL_DEFINITIONS, chat.tools or None)


def write_response(
    record: CallRecord, response: bodies.ChatResponse, outputs: Any, source: str
) -> None:
    write_request_content(record)
    record.set_response(response.response_id, response.model, response.finish_reasons)
    usage = response.usage
    if usage.input is not None or usage.output is not None:
        record.set_usage(
            usage.total_input,
            usage.output,
            cache_read=usage.cache_read,
            cache_write=usage.cache_write,
            source=source,
        )
    record.set_content(attr.GEN_AI_OUTPUT_MESSAGES, response.messages or None, "outputs")
    record.set_outputs(outputs)


# --- Converse ---------------------------------------------------------------------------------


def _guardrail_trace(record: CallRecord, trace: Any) -> None:
    """The guardrail that assessed the call, when the request did not name one (it always does
    today; the trace is the answer's own word on which guardrail ran)."""
    if record.extra["chat"].guardrail_id or not isinstance(trace, dict):
        return
    assessment = (trace.get("guardrail") or {}).get("inputAssessment")
    if isinstance(assessment, dict) and assessment:
        record.set(attr.AWS_BEDROCK_GUARDRAIL_ID, next(iter(assessment)))


class ConverseOperation(BedrockOperation):
    def response(self, record: CallRecord, result: Any) -> None:
        answer = {k: v for k, v in result.items() if k != "ResponseMetadata"}
        write_response(record, bodies.converse_response(answer), answer, "provider")
        _guardrail_trace(record, answer.get("trace"))


class ConverseStreamAccumulator:
    def __init__(self, record: CallRecord) -> None:
        self.record = record
        self.state = bodies.ConverseStreamState()
        self.trace: Any = None

    def on_item(self, item: Any) -> bool:
        self.state.add(item)
        if "metadata" in item:
            self.trace = item["metadata"].get("trace")
        return False

    def finish(self, record: CallRecord) -> None:
        response = self.state.result()
        write_response(record, response, response.messages, "provider")
        _guardrail_trace(record, self.trace)


def wrap_result_stream(record: CallRecord, result: Any, key: str, accumulator: Any) -> Any:
    """Put ``result[key]`` (an EventStream) behind the shared stream proxy; same dict returned."""
    stream = result.get(key) if isinstance(result, dict) else None
    if stream is None:
        record.end()
        return result
    result[key] = wrap_stream(stream, record, accumulator)
    return result


class ConverseStreamOperation(BedrockOperation):
    streams = True

    def handle_result(self, record: CallRecord, result: Any) -> Any:
        return wrap_result_stream(record, result, "stream", ConverseStreamAccumulator(record))


# --- invoke_model -----------------------------------------------------------------------------


class InvokeOperation(BedrockOperation):
    def read_request(
        self, record: CallRecord, params: dict[str, Any], ref: bodies.ModelRef | None
    ) -> bodies.ChatRequest:
        body = _request_json(params.get("body"))
        family = bodies.family_of(ref or _NO_MODEL, body)
        record.extra["body_json"] = body
        record.extra["family"] = family
        return families.invoke_request(family, body)

    def read_content(self, record: CallRecord) -> bodies.ChatRequest:
        chat: bodies.ChatRequest = record.extra["chat"]  # read with the body, before the call
        return chat

    def handle_result(self, record: CallRecord, result: Any) -> Any:
        original = result["body"]
        try:
            data = original.read()
        except Exception as exc:  # the caller would have met this error on its own read()
            _close_quietly(original)  # the caller can no longer reach it to close it
            result["body"] = _failing_body(exc)
            record.fail(exc)
            return result
        result["body"] = _sync_body(data)
        record_invoke_body(record, result, data)
        return result


def record_invoke_body(record: CallRecord, result: dict[str, Any], data: bytes) -> None:
    """Read an invoke_model answer (bytes already buffered) onto the record, and end it."""
    try:
        parsed = _json_or_none(data)
        response = families.invoke_response(record.extra["family"], parsed)
        source = "provider"
        if response.usage.input is None and response.usage.output is None:
            headers = (result.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
            response.usage = families.usage_from_headers(headers)
            source = "headers"
        write_response(record, response, parsed, source)
    finally:
        record.end()


class InvokeStreamAccumulator:
    def __init__(self, record: CallRecord) -> None:
        self.state = families.InvokeStreamState(record.extra["family"])

    def on_item(self, item: Any) -> bool:
        chunk = item.get("chunk") if isinstance(item, dict) else None
        if isinstance(chunk, dict) and isinstance(chunk.get("bytes"), (bytes, bytearray)):
            self.state.add(_json_or_none(chunk["bytes"]))
        return False

    def finish(self, record: CallRecord) -> None:
        response = self.state.result()
        write_response(record, response, response.messages, "provider")


class InvokeStreamOperation(InvokeOperation):
    streams = True

    def handle_result(self, record: CallRecord, result: Any) -> Any:
        return wrap_result_stream(record, result, "body", InvokeStreamAccumulator(record))


_NO_MODEL = bodies.ModelRef("", None)


def _request_json(body: Any) -> Any:
    """The request body as JSON, without consuming a file-like body the call still has to send."""
    if isinstance(body, (bytes, bytearray, str)):
        return _json_or_none(body)
    return None


def _json_or_none(data: Any) -> Any:
    try:
        return json.loads(data)
    except (ValueError, TypeError):
        return None


def _sync_body(data: bytes) -> Any:
    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))


class _RaisingRaw(io.RawIOBase):
    """A raw stream whose read raises what the original body raised, for the caller to meet."""

    def __init__(self, exc: BaseException) -> None:
        self._exc = exc

    def read(self, size: int = -1) -> bytes:
        raise self._exc


def _close_quietly(body: Any) -> None:
    with contextlib.suppress(Exception):  # a body that will not close is broken already
        body.close()


def _failing_body(exc: BaseException) -> Any:
    from botocore.response import StreamingBody

    return StreamingBody(_RaisingRaw(exc), None)


# --- patching ---------------------------------------------------------------------------------

SYNC_OPERATIONS: dict[str, Callable[..., BedrockOperation]] = {
    "Converse": ConverseOperation,
    "ConverseStream": ConverseStreamOperation,
    "InvokeModel": InvokeOperation,
    "InvokeModelWithResponseStream": InvokeStreamOperation,
}


def dispatcher(
    table: dict[str, Wrapper], adapters: dict[str, Callable[..., Any]] | None = None
) -> Wrapper:
    """One wrapper for ``_make_api_call`` that traces only the Bedrock runtime's four calls.

    ``adapters`` maps an operation to a function ``(wrapped, *args)`` called in place of
    ``wrapped`` (aiobotocore's invoke_model buffers its body that way)."""
    adapters = adapters or {}

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # Cheap checks first: this runs for every AWS call the application makes.
        if type(instance).__name__ != _CLIENT_CLASS:
            return wrapped(*args, **kwargs)
        name = args[0] if args else kwargs.get("operation_name")
        traced = table.get(name)  # type: ignore[arg-type]
        if traced is None or instance.meta.service_model.service_name != SERVICE:
            return wrapped(*args, **kwargs)
        adapter = adapters.get(name)  # type: ignore[arg-type]
        if adapter is not None:
            wrapped = functools.partial(adapter, wrapped)
        return traced(wrapped, instance, args, kwargs)

    return wrapper


def patch(patcher: Patcher, options: AutologOptions) -> None:
    sync_table = {
        name: make_wrapper(op(is_async=False), options) for name, op in SYNC_OPERATIONS.items()
    }
    patcher.wrap("botocore.client", "BaseClient._make_api_call", dispatcher(sync_table))
    if importlib.util.find_spec("aiobotocore") is not None:
        from tracepond.autolog.bedrock import aio as bedrock_async

        async_table = {
            name: make_wrapper(op(is_async=True), options)
            for name, op in bedrock_async.ASYNC_OPERATIONS.items()
        }
        patcher.wrap(
            "aiobotocore.client",
            "AioBaseClient._make_api_call",
            dispatcher(async_table, bedrock_async.ASYNC_CALL_ADAPTERS),
        )
