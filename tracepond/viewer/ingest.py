"""OTLP/HTTP trace ingest: POST /v1/traces, protobuf or JSON, optionally gzip.

Any OpenTelemetry SDK or collector can point its OTLP/HTTP exporter at the viewer
(``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:5000``). Spans are decoded
(tracepond.viewer.otlp_decode), converted to the store's span and event rows
(tracepond.viewer.otlp_rows) and written through the store's write API, one batch per request,
by one writer at a time. The answer is the OTLP ExportTraceServiceResponse in the request's
encoding, with partial_success when spans were rejected; a body that cannot be decoded is a 400
with a google.rpc.Status, and a store held by another process a 503 with Retry-After, which
OTLP exporters retry.
"""

from __future__ import annotations

import threading

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tracepond.errors import StoreLockedError
from tracepond.viewer.otlp_decode import (
    JSON,
    MAX_BODY_BYTES,
    PROTOBUF,
    OtlpDecodeError,
    decode_spans,
    decompress,
    encode_response,
    encode_status,
    parse_request,
)
from tracepond.viewer.otlp_rows import OtlpSpan, write_spans

_INVALID_ARGUMENT = 3
_UNAVAILABLE = 14


class IngestWriter:
    """Serializes this process's ingest writes: DuckDB takes one writer per file at a time."""

    def __init__(self, store: str) -> None:
        self.store = store
        self._lock = threading.Lock()
        self.spans_written = 0

    def write(self, spans: list[OtlpSpan]) -> None:
        with self._lock:
            write_spans(self.store, spans)
            self.spans_written += len(spans)


def _media_type(request: Request) -> str:
    content_type = request.headers.get("content-type", PROTOBUF)
    return JSON if content_type.split(";", 1)[0].strip().lower() == JSON else PROTOBUF


def _answer(
    body: bytes, media_type: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(body, status_code=status, media_type=media_type, headers=headers)


async def export_traces(request: Request) -> Response:
    media_type = _media_type(request)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        message = f"request body larger than {MAX_BODY_BYTES} bytes"
        return _answer(encode_status(_INVALID_ARGUMENT, message, media_type), media_type, 413)
    raw = await request.body()
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
    return _answer(encode_response(decoded.rejected, media_type), media_type)
