"""An encoder for the AWS event-stream binary framing (``application/vnd.amazon.eventstream``).

Bedrock's two streaming operations answer with a sequence of messages in this framing; the
stand-in Bedrock server needs to write them so that the real botocore decoder reads them.

One message, all integers big-endian::

    prelude   total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes (uint32)
    headers   repeated: name length (uint8) | name (utf-8) | value type (uint8) | value
    payload   the bytes of the event (JSON for Bedrock)
    trailer   CRC32 of every byte before it, prelude included (uint32)

Header value types (the spec numbers them 0-9); this encoder writes the ones Bedrock uses:
true (0), false (1), int32 (4), int64 (5), byte array (6, uint16 length) and string (7, uint16
length). The CRC is the IEEE CRC32 of ``binascii.crc32``.
"""

from __future__ import annotations

import json
import struct
from binascii import crc32
from typing import Any

_PRELUDE = struct.Struct("!II")
_UINT32 = struct.Struct("!I")
_HEADER_TRUE = 0
_HEADER_FALSE = 1
_HEADER_INT32 = 4
_HEADER_INT64 = 5
_HEADER_BYTES = 6
_HEADER_STRING = 7
_MAX_HEADER_NAME = 255
_MAX_HEADER_VALUE = 0xFFFF

HeaderValue = str | bytes | bool | int


def encode_header(name: str, value: HeaderValue) -> bytes:
    """One header: its name, its type tag and its value, as the framing lays them out."""
    raw_name = name.encode("utf-8")
    if not raw_name or len(raw_name) > _MAX_HEADER_NAME:
        raise ValueError(f"event-stream header name must be 1-255 bytes, got {name!r}")
    head = bytes([len(raw_name)]) + raw_name
    if isinstance(value, bool):  # before int: bool is an int subclass
        return head + bytes([_HEADER_TRUE if value else _HEADER_FALSE])
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return head + bytes([_HEADER_INT32]) + struct.pack("!i", value)
        return head + bytes([_HEADER_INT64]) + struct.pack("!q", value)
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if len(raw) > _MAX_HEADER_VALUE:
        raise ValueError(f"event-stream header {name!r} value is longer than 65535 bytes")
    tag = _HEADER_STRING if isinstance(value, str) else _HEADER_BYTES
    return head + bytes([tag]) + struct.pack("!H", len(raw)) + raw


def encode_message(headers: dict[str, HeaderValue], payload: bytes) -> bytes:
    """A complete framed message: prelude with its CRC, headers, payload, message CRC."""
    header_bytes = b"".join(encode_header(name, value) for name, value in headers.items())
    total_length = _PRELUDE.size + 4 + len(header_bytes) + len(payload) + 4
    prelude = _PRELUDE.pack(total_length, len(header_bytes))
    prelude += _UINT32.pack(crc32(prelude) & 0xFFFFFFFF)
    body = prelude + header_bytes + payload
    return body + _UINT32.pack(crc32(body) & 0xFFFFFFFF)


def encode_event(event_type: str, payload: Any) -> bytes:
    """An ``event`` message whose JSON payload botocore parses into ``{event_type: payload}``."""
    headers: dict[str, HeaderValue] = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, json.dumps(payload).encode("utf-8"))


def encode_exception(exception_type: str, message: str) -> bytes:
    """An ``exception`` message: botocore raises ``EventStreamError`` with this code mid-stream.

    ``exception_type`` is the member name in the stream's shape, e.g. ``throttlingException`` or
    ``modelStreamErrorException``.
    """
    headers: dict[str, HeaderValue] = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps({"message": message}).encode("utf-8"))
