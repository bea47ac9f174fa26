"""Decode OTLP/HTTP trace requests (protobuf or JSON, optionally gzip) into plain span records.

The OTLP JSON encoding differs from protobuf's canonical JSON mapping in one place that matters:
trace and span ids are hex strings, not base64. They are rewritten to base64 before the standard
``json_format`` parser sees them, so one protobuf message type serves both encodings.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tracepond.errors import OtlpDecodeError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_BODY_BYTES = 64 * 1024 * 1024  # after decompression; a bigger batch is refused, not truncated
# JSON objects and arrays inside one another. OTLP itself needs about 12 (resourceSpans down to
# an attribute's value); protobuf refuses messages past 100 levels. Checked before anything
# recurses, so a hostile body is a 400, never a RecursionError.
MAX_JSON_DEPTH = 100

_STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}
_SPAN_KINDS = {
    0: "UNSPECIFIED",
    1: "INTERNAL",
    2: "SERVER",
    3: "CLIENT",
    4: "PRODUCER",
    5: "CONSUMER",
}
_ID_FIELDS = frozenset(
    {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}
)


@dataclass
class OtlpEvent:
    name: str
    time_unix_nano: int
    attributes: dict[str, Any]


@dataclass
class OtlpSpan:
    """One span as OTLP describes it, ids as lowercase hex, attribute values as Python values."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    status_code: str
    status_message: str
    attributes: dict[str, Any]
    events: list[OtlpEvent] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    scope_name: str = ""


@dataclass
class DecodedRequest:
    spans: list[OtlpSpan]
    rejected: list[str]  # one reason per rejected span


def decompress(body: bytes, content_encoding: str | None) -> bytes:
    """Undo Content-Encoding (gzip or deflate), refusing bodies that inflate past the cap."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        data = body
    elif encoding in ("gzip", "x-gzip"):
        data = _inflate(body, zlib.MAX_WBITS | 16, "gzip")
    elif encoding == "deflate":
        data = _inflate(body, zlib.MAX_WBITS, "deflate")
    else:
        raise OtlpDecodeError(f"unsupported Content-Encoding {content_encoding!r}")
    if len(data) > MAX_BODY_BYTES:
        raise OtlpDecodeError(f"request body larger than {MAX_BODY_BYTES} bytes")
    return data


def _inflate(body: bytes, wbits: int, name: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise OtlpDecodeError(f"body is not valid {name}: {exc}") from None
    if not inflater.eof and len(data) <= MAX_BODY_BYTES:
        raise OtlpDecodeError(f"body is truncated {name}")
    return data


def parse_request(data: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Parse a decompressed body as the protobuf or JSON encoding, by its Content-Type."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    request = ExportTraceServiceRequest()
    if media_type == PROTOBUF:
        try:
            request.ParseFromString(data)
        except DecodeError as exc:
            raise OtlpDecodeError(
                f"body is not a protobuf ExportTraceServiceRequest: {exc}"
            ) from None
        return request
    if media_type == JSON:
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise OtlpDecodeError(f"body is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise OtlpDecodeError("JSON body must be an object with resourceSpans")
        _check_depth(document)
        try:
            json_format.ParseDict(_hex_ids_to_base64(document), request, ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            raise OtlpDecodeError(f"JSON body is not an ExportTraceServiceRequest: {exc}") from None
        return request
    raise OtlpDecodeError(f"unsupported Content-Type {content_type!r}; send {PROTOBUF} or {JSON}")


def _check_depth(document: Any) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH, walking it without recursion."""
    level: list[Any] = [document]
    depth = 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise OtlpDecodeError(f"JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
        inner: list[Any] = []
        for node in level:
            values = node.values() if isinstance(node, dict) else node
            inner.extend(v for v in values if isinstance(v, dict | list))
        level = inner


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON parser reads bytes as base64."""
    if isinstance(node, dict):
        converted: dict[str, Any] = {}
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                converted[key] = _hex_to_base64(key, value)
            else:
                converted[key] = _hex_ids_to_base64(value)
        return converted
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


def _hex_to_base64(key: str, value: str) -> str:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise OtlpDecodeError(f"{key} {value!r} is not a hex string") from None
    return base64.b64encode(raw).decode("ascii")


def decode_spans(request: ExportTraceServiceRequest) -> DecodedRequest:
    """Flatten resource -> scope -> span into OtlpSpan records, rejecting spans with bad ids."""
    spans: list[OtlpSpan] = []
    rejected: list[str] = []
    for resource_spans in request.resource_spans:
        resource = attributes_to_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name
            for span in scope_spans.spans:
                reason = _invalid_reason(span.trace_id, span.span_id, span.parent_span_id)
                if reason:
                    rejected.append(f"span {span.name!r}: {reason}")
                    continue
                spans.append(_decode_span(span, resource, scope_name))
    return DecodedRequest(spans=spans, rejected=rejected)


def _invalid_reason(trace_id: bytes, span_id: bytes, parent_span_id: bytes) -> str | None:
    if len(trace_id) != 16 or not any(trace_id):
        return "trace_id must be 16 bytes, not all zero"
    if len(span_id) != 8 or not any(span_id):
        return "span_id must be 8 bytes, not all zero"
    if parent_span_id and len(parent_span_id) != 8:
        return "parent_span_id must be empty or 8 bytes"
    return None


def _decode_span(span: Any, resource: dict[str, Any], scope_name: str) -> OtlpSpan:
    parent = span.parent_span_id.hex() if any(span.parent_span_id) else None
    start = int(span.start_time_unix_nano)
    end = int(span.end_time_unix_nano) or start
    return OtlpSpan(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=parent,
        name=span.name,
        kind=_SPAN_KINDS.get(span.kind, "UNSPECIFIED"),
        start_time_unix_nano=start,
        end_time_unix_nano=max(end, start),
        status_code=_STATUS_CODES.get(span.status.code, "UNSET"),
        status_message=span.status.message,
        attributes=attributes_to_dict(span.attributes),
        events=[
            OtlpEvent(
                name=event.name,
                time_unix_nano=int(event.time_unix_nano),
                attributes=attributes_to_dict(event.attributes),
            )
            for event in span.events
        ],
        resource=resource,
        scope_name=scope_name,
    )


def attributes_to_dict(attributes: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in attributes if isinstance(kv, KeyValue)}


def any_value(value: AnyValue) -> Any:
    """An OTLP AnyValue as the Python value the SDK would have recorded."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)


def encode_response(rejected: list[str], media_type: str) -> bytes:
    """ExportTraceServiceResponse in the request's encoding; partial_success only on rejects."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = len(rejected)
        shown = "; ".join(rejected[:5])
        more = f" (and {len(rejected) - 5} more)" if len(rejected) > 5 else ""
        response.partial_success.error_message = shown + more
    if media_type == JSON:
        text: str = json_format.MessageToJson(response, indent=None)
        return text.encode()
    encoded: bytes = response.SerializeToString()
    return encoded


def encode_status(code: int, message: str, media_type: str) -> bytes:
    """A google.rpc.Status body, which OTLP/HTTP prescribes for failed requests."""
    from google.rpc.status_pb2 import Status

    status = Status(code=code, message=message)
    if media_type == JSON:
        text: str = json_format.MessageToJson(status, indent=None)
        return text.encode()
    encoded: bytes = status.SerializeToString()
    return encoded
