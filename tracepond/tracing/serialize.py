"""Any Python value to capped, redacted JSON text, without ever raising.

``to_json(value)`` is what goes into ``tracepond.inputs`` / ``tracepond.outputs`` and the GenAI
message attributes. One walk over the value does everything that needs Python: it converts what
JSON cannot hold (pydantic models, dataclasses, enums, datetimes, bytes, sets, numpy values, other
objects by repr), drops openai's NOT_GIVEN / Omit sentinels, marks cycles, never consumes a
generator, replaces secret-looking keys and values with ``"[REDACTED]"``, and stops once the size
budget is spent, so a 10 MB value costs about ``max_bytes`` of memory. orjson then writes the text.

Truncation keeps the result valid JSON: a long string is cut and ends with
``…[truncated N chars]``; a value whose JSON is still over the cap becomes
``{"_truncated": true, "original_bytes": N, "preview": "<the first part of its JSON>"}``
(``original_bytes``: the UTF-8 size of a string, the size of bytes, the JSON size of other values
that orjson can measure, absent otherwise).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import pathlib
import types
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from typing import Any

import orjson

from tracepond.conventions.secrets import REDACTED as REDACTED
from tracepond.conventions.secrets import is_secret_key as is_secret_key
from tracepond.conventions.secrets import might_hold_secret
from tracepond.conventions.secrets import redact_text as redact_text

MAX_DEPTH = 48
BYTES_PREVIEW = 32  # bytes shown (base64) of a bytes value


class _Drop:
    """Returned by a redaction hook to drop a span's content; the span gets
    ``tracepond.content.dropped = True`` instead."""

    _instance: _Drop | None = None

    def __new__(cls) -> _Drop:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "tracepond.DROP"


DROP = _Drop()


Encoded = tuple[str, bool]
"""``(json_text, truncated)``; a plain tuple because a NamedTuple costs a Python call per value."""


# Redaction rules: tracepond.conventions.secrets, shared with the store and the exporters.


def redact_mapping(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``mapping`` with secret-looking keys' values replaced (headers, kwargs);
    nested values are redacted by ``to_json`` when serialized."""
    return {
        key: REDACTED if isinstance(key, str) and is_secret_key(key) else value
        for key, value in mapping.items()
    }


# --- the walk ----------------------------------------------------------------------------------

_SIMPLE = (bool, float, types.NoneType)
_CONTAINERS = (dict, list, tuple, set, frozenset, Mapping)
_MAX_INT = 2**63


_PLAIN = frozenset({str, int, float, bool, types.NoneType, dict, list, tuple})
_SENTINEL_NAMES = frozenset({"NotGiven", "Omit"})
_SENTINEL_MODULES = frozenset({"openai", "groq", "anthropic"})


def _is_sentinel(value: object) -> bool:
    # openai.NOT_GIVEN / openai.Omit (and the same classes vendored in groq), found without
    # importing either library.
    cls = type(value)
    return (
        cls not in _PLAIN
        and cls.__name__ in _SENTINEL_NAMES
        and cls.__module__.partition(".")[0] in _SENTINEL_MODULES
    )


class _Walker:
    __slots__ = ("budget", "path", "truncated")

    def __init__(self, budget: int) -> None:
        self.budget = budget  # rough count of JSON characters still allowed
        self.path: set[int] = set()  # ids of the containers being walked, to spot cycles
        self.truncated = False

    def convert(self, value: Any, depth: int) -> Any:
        cls = type(value)
        if cls is str:
            return self._string(value)
        if cls is int:
            self.budget -= 8
            return value if -_MAX_INT <= value < _MAX_INT else str(value)
        if isinstance(value, _SIMPLE):
            self.budget -= 5
            return value
        if depth >= MAX_DEPTH:
            self.truncated = True
            return "[max depth]"
        if cls is dict or cls is list or isinstance(value, _CONTAINERS):
            return self._container(value, depth)
        return self._other(value, depth)

    def _string(self, text: str) -> str:
        text = redact_text(text) if len(text) >= 16 else text
        if len(text) > self.budget:
            keep = max(self.budget, 0)
            self.truncated = True
            self.budget = 0
            return f"{text[:keep]}…[truncated {len(text) - keep} chars]"
        self.budget -= len(text) + 2
        return text

    def _container(self, value: Any, depth: int) -> Any:
        key = id(value)
        if key in self.path:
            return "[cycle]"
        self.path.add(key)
        try:
            if type(value) is dict or isinstance(value, Mapping):
                return self._mapping(value, depth)
            items = self._items(value, depth)
            if isinstance(value, (set, frozenset)):
                items = _sorted_if_possible(items)
            return items
        finally:
            self.path.discard(key)

    def _mapping(self, mapping: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        convert = self.convert
        depth += 1
        for raw_key, item in mapping.items():
            if self.budget <= 0:
                self.truncated = True
                result["…"] = f"{len(mapping) - len(result)} more keys"
                break
            key = raw_key if type(raw_key) is str else _key_text(raw_key)
            if is_secret_key(key):
                result[key] = REDACTED
            elif not _is_sentinel(item):
                self.budget -= len(key) + 3
                result[key] = convert(item, depth)
        return result

    def _items(self, items: Any, depth: int) -> list[Any]:
        result: list[Any] = []
        for item in items:
            if self.budget <= 0:
                self.truncated = True
                result.append(f"…{len(items) - len(result)} more items")
                break
            if not _is_sentinel(item):
                result.append(self.convert(item, depth + 1))
        return result

    def _other(self, value: Any, depth: int) -> Any:
        if isinstance(value, enum.Enum):
            return self.convert(value.value, depth + 1)
        converted = _convert_known(value)
        if converted is not _UNKNOWN:
            return self.convert(converted, depth + 1)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.convert(_bytes_summary(value), depth + 1)
        cls = type(value)
        if cls.__module__ == "numpy":
            return self.convert(_numpy(value, self.budget), depth + 1)
        if getattr(cls, "__pydantic_serializer__", None) is not None and hasattr(
            value, "model_dump"
        ):
            # warnings=False: tracing must never print pydantic serializer warnings in the app.
            dump = lambda: value.model_dump(mode="json", warnings=False)  # noqa: E731
            return self._nested(value, depth, dump)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._nested(value, depth, lambda: _dataclass_fields(value))
        return self._string(_safe_repr(value))

    def _nested(self, value: Any, depth: int, expand: Callable[[], Any]) -> Any:
        key = id(value)
        if key in self.path:
            return "[cycle]"
        self.path.add(key)
        try:
            return self.convert(expand(), depth + 1)
        except Exception:
            return self._string(_safe_repr(value))
        finally:
            self.path.discard(key)


_UNKNOWN = object()


def _convert_known(value: Any) -> Any:
    """Standard-library values JSON has no type for, as strings or numbers; _UNKNOWN otherwise."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (uuid.UUID, decimal.Decimal, pathlib.PurePath)):
        return str(value)
    if isinstance(value, str):  # subclasses of str and int (enums are handled before)
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (Iterator, AsyncIterator, Coroutine, types.GeneratorType)):
        return _safe_repr(value)  # never consume the caller's iterator
    return _UNKNOWN


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, enum.Enum):
        return str(key.value)
    if isinstance(key, (int, float, bool)) or key is None:
        return orjson.dumps(key).decode()
    return _safe_repr(key)


def _sorted_if_possible(items: list[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return items


def _dataclass_fields(value: Any) -> dict[str, Any]:
    return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}


def _bytes_summary(value: bytes | bytearray | memoryview) -> dict[str, Any]:
    data = bytes(value[:BYTES_PREVIEW])
    return {
        "_type": "bytes",
        "size": value.nbytes if isinstance(value, memoryview) else len(value),
        "preview_base64": base64.b64encode(data).decode("ascii"),
    }


def _numpy(value: Any, budget: int) -> Any:
    # numpy is imported by the app, never by tracepond: only duck-typed calls here.
    if hasattr(value, "shape") and hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:
        if value.nbytes <= max(budget, 0):
            return value.tolist()
        count = max(1, max(budget, 0) // max(value.itemsize, 8))
        return {
            "_type": "ndarray",
            "shape": list(value.shape),
            "dtype": str(value.dtype),
            "preview": value.ravel()[:count].tolist(),
        }
    if hasattr(value, "item"):
        return value.item()
    return _safe_repr(value)


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= 4096 else text[:4096] + "…"


# --- entry points ------------------------------------------------------------------------------


def _default_max_bytes() -> int:
    from tracepond.config import get_settings

    return get_settings().max_value_bytes


def _original_size(value: Any) -> int | None:
    if isinstance(value, str):  # its UTF-8 size; ASCII text is measured without a copy
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    try:  # measured at C speed; fails (and is left out) on cycles and exotic values
        return len(orjson.dumps(value, default=_safe_repr, option=_MEASURE_OPTIONS))
    except Exception:
        return None


_HEADROOM = 64  # room for the marker of a cut string, so it still fits the cap
_DUMP_OPTIONS = orjson.OPT_NON_STR_KEYS
_MEASURE_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _wrap_truncated(value: Any, text: str, max_bytes: int) -> str:
    limit = max_bytes - 100
    original = _original_size(value)
    while True:
        marker: dict[str, Any] = {"_truncated": True}
        if original is not None:
            marker["original_bytes"] = original
        marker["preview"] = text[: max(limit, 0)]
        wrapped = orjson.dumps(marker).decode()
        if len(wrapped.encode()) <= max_bytes or limit <= 0:
            return wrapped
        limit -= len(wrapped.encode()) - max_bytes + 16  # escapes made it longer: cut more


def _is_flat_and_clean(value: Any, budget: int) -> bool:
    """True for the common case (a traced function's arguments): a small dict of plain scalars
    with no secret-looking key or value. orjson can take it as it is, without the walk."""
    if type(value) is not dict:
        return False
    for key, item in value.items():
        if type(key) is not str or is_secret_key(key):
            return False
        kind = type(item)
        if kind is str:
            if len(item) >= 16 and might_hold_secret(item):
                return False
            budget -= len(item) + len(key) + 6
        elif kind is int:
            if not -_MAX_INT <= item < _MAX_INT:
                return False
            budget -= len(key) + 24
        elif kind is float or kind is bool or item is None:
            budget -= len(key) + 24
        else:
            return False
    return budget > 0


def encode(value: Any, max_bytes: int | None = None) -> Encoded:
    """``value`` as capped, redacted JSON text, and whether anything was cut. Never raises."""
    try:
        cap = _default_max_bytes() if max_bytes is None else max_bytes
        if _is_flat_and_clean(value, cap - _HEADROOM):
            flat = orjson.dumps(value)
            if len(flat) <= cap:  # escaping can make it longer than estimated: then walk
                return flat.decode(), False
        walker = _Walker(cap - _HEADROOM)
        plain = walker.convert(value, 0) if not _is_sentinel(value) else None
        data = orjson.dumps(plain, option=_DUMP_OPTIONS)
        if len(data) <= cap:
            return data.decode(), walker.truncated
        return _wrap_truncated(value, data.decode(), cap), True
    except Exception:
        # Not expected (the walk converts everything orjson cannot take): keep a marker, not the
        # value, and never let serialization break a traced call.
        return orjson.dumps({"_unserializable": _safe_repr(type(value))}).decode(), True


def to_json(value: Any, max_bytes: int | None = None) -> str:
    """``value`` as JSON text: converted, redacted, and capped at ``max_bytes`` (None: the
    configured ``max_value_bytes``). Never raises."""
    return encode(value, max_bytes)[0]
