"""OTLP/HTTP bodies -> span records: protobuf, JSON (hex ids), gzip, AnyValue, and bad input."""

from __future__ import annotations

import gzip
import zlib

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tracepond.otlp.decode import (
    JSON,
    MAX_BODY_BYTES,
    PROTOBUF,
    OtlpDecodeError,
    decode_spans,
    decompress,
    encode_response,
    parse_request,
)

TRACE = "5b8efff798038103d269b633813fc60c"
ROOT = "eee19b7ec3c1b174"
CHILD = "eee19b7ec3c1b173"


def json_body(trace_id: str = TRACE, span_id: str = CHILD) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "my.lib"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "parentSpanId": ROOT,
                                "name": "chat gpt-4o",
                                "kind": 3,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000250000000",
                                "attributes": [
                                    {
                                        "key": "gen_ai.request.model",
                                        "value": {"stringValue": "gpt-4o"},
                                    },
                                    {
                                        "key": "gen_ai.usage.input_tokens",
                                        "value": {"intValue": "12"},
                                    },
                                    {"key": "temperature", "value": {"doubleValue": 0.5}},
                                    {"key": "stream", "value": {"boolValue": True}},
                                    {
                                        "key": "stops",
                                        "value": {
                                            "arrayValue": {
                                                "values": [{"stringValue": "a"}, {"intValue": 2}]
                                            }
                                        },
                                    },
                                    {
                                        "key": "nested",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": "k", "value": {"stringValue": "v"}}
                                                ]
                                            }
                                        },
                                    },
                                    {"key": "raw", "value": {"bytesValue": "AAE="}},
                                ],
                                "events": [
                                    {
                                        "name": "exception",
                                        "timeUnixNano": "1700000000100000000",
                                        "attributes": [
                                            {
                                                "key": "exception.type",
                                                "value": {"stringValue": "ValueError"},
                                            }
                                        ],
                                    }
                                ],
                                "status": {"code": 2, "message": "boom"},
                            }
                        ],
                    }
                ],
            }
        ]
    }


def test_json_body_decodes_hex_ids_and_every_anyvalue_kind() -> None:
    request = parse_request(orjson.dumps(json_body()), "application/json; charset=utf-8")
    decoded = decode_spans(request)
    assert decoded.rejected == []
    [span] = decoded.spans
    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE, CHILD, ROOT)
    assert span.kind == "CLIENT" and span.status_code == "ERROR" and span.status_message == "boom"
    assert span.end_time_unix_nano - span.start_time_unix_nano == 250_000_000
    assert span.attributes == {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 12,
        "temperature": 0.5,
        "stream": True,
        "stops": ["a", 2],
        "nested": {"k": "v"},
        "raw": "AAE=",
    }
    assert span.resource == {"service.name": "shop"} and span.scope_name == "my.lib"
    assert span.events[0].name == "exception"
    assert span.events[0].attributes == {"exception.type": "ValueError"}


def test_protobuf_body_round_trips_the_same_span() -> None:
    from google.protobuf import json_format

    request = parse_request(orjson.dumps(json_body()), JSON)
    again = decode_spans(parse_request(request.SerializeToString(), PROTOBUF))
    assert again.spans == decode_spans(request).spans
    assert json_format.MessageToDict(request)  # a real message, not an empty one


@pytest.mark.parametrize("encoding,pack", [("gzip", gzip.compress), ("deflate", zlib.compress)])
def test_compressed_bodies_inflate(encoding: str, pack: object) -> None:
    data = orjson.dumps(json_body())
    assert decompress(pack(data), encoding) == data  # type: ignore[operator]


def test_bad_bodies_raise_a_clear_error() -> None:
    with pytest.raises(OtlpDecodeError, match="not valid gzip"):
        decompress(b"not gzip at all", "gzip")
    with pytest.raises(OtlpDecodeError, match="Content-Encoding 'br'"):
        decompress(b"x", "br")
    with pytest.raises(OtlpDecodeError, match="not valid JSON"):
        parse_request(b"{nope", JSON)
    with pytest.raises(OtlpDecodeError, match="not a hex string"):
        parse_request(orjson.dumps(json_body(trace_id="zz")), JSON)
    with pytest.raises(OtlpDecodeError, match="protobuf"):
        parse_request(b"\xff\xff\xff", PROTOBUF)
    with pytest.raises(OtlpDecodeError, match="Content-Type"):
        parse_request(b"", "text/plain")


def test_a_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"\0" * (MAX_BODY_BYTES + 10))
    with pytest.raises(OtlpDecodeError, match="larger than"):
        decompress(bomb, "gzip")


def test_spans_with_bad_ids_are_rejected_and_the_rest_kept() -> None:
    body = json_body()
    good = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    bad_trace = dict(good, traceId="00" * 16, name="zero trace")
    short_span = dict(good, spanId="abcd", name="short span")
    body["resourceSpans"][0]["scopeSpans"][0]["spans"] += [bad_trace, short_span]
    decoded = decode_spans(parse_request(orjson.dumps(body), JSON))
    assert [s.name for s in decoded.spans] == ["chat gpt-4o"]
    assert len(decoded.rejected) == 2 and "zero trace" in decoded.rejected[0]
    response = ExportTraceServiceResponse()
    response.ParseFromString(encode_response(decoded.rejected, PROTOBUF))
    assert response.partial_success.rejected_spans == 2
    assert "short span" in response.partial_success.error_message
    as_json = orjson.loads(encode_response(decoded.rejected, JSON))
    assert as_json["partialSuccess"]["rejectedSpans"] == "2"


def test_full_success_response_is_empty() -> None:
    assert encode_response([], PROTOBUF) == b""
    assert ExportTraceServiceRequest().SerializeToString() == b""
