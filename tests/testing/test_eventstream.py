"""The event-stream encoder's frames decode with botocore's own decoder, CRCs checked."""

from __future__ import annotations

import json
import struct
from binascii import crc32

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from tracepond.testing.eventstream import (
    encode_event,
    encode_exception,
    encode_header,
    encode_message,
)


def decode_all(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_event_round_trips_through_botocore_decoder() -> None:
    frame = encode_event("contentBlockDelta", {"delta": {"text": "héllo"}, "contentBlockIndex": 0})
    (message,) = decode_all(frame)
    assert message.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == {"delta": {"text": "héllo"}, "contentBlockIndex": 0}
    assert message.prelude.total_length == len(frame)
    assert message.crc == struct.unpack("!I", frame[-4:])[0]
    assert message.to_response_dict()["status_code"] == 200


def test_exception_frame_is_an_error_response_for_botocore() -> None:
    (message,) = decode_all(encode_exception("throttlingException", "Too many requests"))
    assert message.headers[":message-type"] == "exception"
    assert message.headers[":exception-type"] == "throttlingException"
    assert message.to_response_dict()["status_code"] == 400
    assert json.loads(message.payload) == {"message": "Too many requests"}


def test_every_header_type_written_decodes_to_its_value() -> None:
    headers = {"t": True, "f": False, "i": -7, "l": 2**40, "b": b"\x00\x01", "s": "text"}
    (message,) = decode_all(encode_message(headers, b""))
    assert message.headers == headers
    assert message.payload == b""


def test_several_frames_split_at_odd_boundaries_decode_in_order() -> None:
    data = b"".join(encode_event("chunk", {"n": n}) for n in range(5))
    buffer = EventStreamBuffer()
    decoded = []
    for start in range(0, len(data), 7):  # feed 7 bytes at a time, as a slow socket would
        buffer.add_data(data[start : start + 7])
        decoded.extend(json.loads(m.payload)["n"] for m in buffer)
    assert decoded == [0, 1, 2, 3, 4]


def test_prelude_crc_covers_the_first_eight_bytes() -> None:
    frame = encode_message({"a": "b"}, b"xyz")
    assert struct.unpack("!I", frame[8:12])[0] == crc32(frame[:8])
    assert struct.unpack("!I", frame[-4:])[0] == crc32(frame[:-4])


@pytest.mark.parametrize("offset", [13, -6])  # a header byte, a payload byte
def test_a_corrupted_byte_fails_botocore_checksum(offset: int) -> None:
    frame = bytearray(encode_event("chunk", {"bytes": "aGk="}))
    frame[offset] ^= 0xFF
    with pytest.raises(ChecksumMismatch):
        decode_all(bytes(frame))


def test_bad_header_names_and_values_are_refused() -> None:
    with pytest.raises(ValueError, match="header name"):
        encode_header("", "x")
    with pytest.raises(ValueError, match="header name"):
        encode_header("n" * 256, "x")
    with pytest.raises(ValueError, match="65535"):
        encode_header("big", "x" * 70000)
