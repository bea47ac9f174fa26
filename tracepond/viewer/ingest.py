"""OTLP/HTTP trace ingest: POST /v1/traces, protobuf or JSON, optionally gzip.

Any OpenTelemetry SDK or collector can point its OTLP/HTTP exporter at the viewer
(``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:5454``). Spans are decoded
(tracepond.otlp.decode), converted to the store's span and event rows
(tracepond.otlp.spans) and written through the DuckDB exporter's write path
(tracepond.exporters.duckdb.write_spans, as the span processor) by one writer thread:
requests that arrive while it writes are committed together in its next transaction (group
commit), and each request is answered once its spans are committed.

The answer is the OTLP ExportTraceServiceResponse in the request's encoding, with
partial_success when spans were rejected; a body that cannot be decoded is a 400 with a
google.rpc.Status, a store held by another process a 503 with Retry-After (OTLP exporters
retry it), and a path that cannot hold a store a 500 naming why.
"""

from __future__ import annotations

import threading

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tracepond.batching import BatchQueue
from tracepond.errors import OtlpDecodeError, StoreError, StoreLockedError
from tracepond.exporters.duckdb import write_spans
from tracepond.otlp.decode import (
    JSON,
    MAX_BODY_BYTES,
    PROTOBUF,
    decode_spans,
    decompress,
    encode_response,
    encode_status,
    parse_request,
)
from tracepond.otlp.spans import OtlpSpan, readable_spans

_INVALID_ARGUMENT = 3
_UNAVAILABLE = 14
_INTERNAL = 13


class IngestWriter:
    """Group commit for ingest: requests that arrive while a batch is being written are written
    together in the next transaction, and each request is answered once its spans are committed.

    DuckDB takes one writer per file at a time, so concurrent exporters would otherwise queue up
    one small transaction each; together they share the cost of opening the store. The requests
    wait in the shared bounded batch queue (tracepond.batching); when it is full the request is
    refused with a 503, which OTLP exporters retry.
    """

    MAX_SPANS_PER_COMMIT = 20_000
    MAX_WAITING_REQUESTS = 1_000

    def __init__(self, store: str) -> None:
        self.store = store
        self.spans_written = 0
        self._queue: BatchQueue[_Request] = BatchQueue(
            "ingest",
            self._commit,
            capacity=self.MAX_WAITING_REQUESTS,
            batch_size=self.MAX_SPANS_PER_COMMIT,
            interval_s=1.0,
            weight=lambda request: max(1, len(request.spans)),
            wake_at=1,  # a request waits for its commit: write as soon as one is queued
        )

    def write(self, spans: list[OtlpSpan]) -> None:
        """Block until ``spans`` are committed; raise what the write raised."""
        request = _Request(spans)
        if not self._queue.put(request):
            raise StoreLockedError(
                f"{self.MAX_WAITING_REQUESTS} ingest requests are already waiting for the store"
            )
        request.done.wait()
        if request.error is not None:
            raise request.error

    def _commit(self, group: list[_Request]) -> None:
        try:
            spans = [span for request in group for span in request.spans]
            write_spans(self.store, readable_spans(spans))  # the exporter's own write path
            self.spans_written += sum(len(request.spans) for request in group)
        except BaseException as exc:  # every waiting request answers with the failure
            for request in group:
                request.error = exc
        for request in group:
            request.done.set()


class _Request:
    __slots__ = ("done", "error", "spans")

    def __init__(self, spans: list[OtlpSpan]) -> None:
        self.spans = spans
        self.done = threading.Event()
        self.error: BaseException | None = None


def _media_type(request: Request) -> str:
    content_type = request.headers.get("content-type", PROTOBUF)
    return JSON if content_type.split(";", 1)[0].strip().lower() == JSON else PROTOBUF


def _answer(
    body: bytes, media_type: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(body, status_code=status, media_type=media_type, headers=headers)


async def _read_capped(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_BODY_BYTES: counted while reading, so a body sent
    without a Content-Length (chunked) is refused before it is held whole."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def export_traces(request: Request) -> Response:
    media_type = _media_type(request)
    raw = await _read_capped(request)
    if raw is None:
        message = f"request body larger than {MAX_BODY_BYTES} bytes"
        return _answer(encode_status(_INVALID_ARGUMENT, message, media_type), media_type, 413)
    try:
        data = decompress(raw, request.headers.get("content-encoding"))
        decoded = decode_spans(parse_request(data, request.headers.get("content-type", "")))
    except OtlpDecodeError as exc:
        status = 415 if "Content-Type" in str(exc) else 400
        return _answer(encode_status(_INVALID_ARGUMENT, str(exc), media_type), media_type, status)
    writer: IngestWriter = request.app.state.ingest
    if decoded.spans:
        try:
            await run_in_threadpool(writer.write, decoded.spans)
        except StoreLockedError as exc:
            body = encode_status(_UNAVAILABLE, f"store busy, retry: {exc}", media_type)
            return _answer(body, media_type, 503, {"retry-after": "1"})
        except StoreError as exc:  # the store cannot take spans at all: say why, do not retry
            return _answer(
                encode_status(_INTERNAL, f"cannot store spans: {exc}", media_type), media_type, 500
            )
    return _answer(encode_response(decoded.rejected, media_type), media_type)
