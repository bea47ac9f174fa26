"""Content as JSON text, quickly: what ``CallRecord.set_content`` writes.

``encode_json(value, max_bytes)`` returns exactly what ``tracepond.tracing.serialize.encode``
would (capped, redacted JSON text and whether it was cut), taking a C serializer (orjson, or
pydantic's ``model_dump_json`` for the SDK's response objects) whenever that gives the same
text, and serialize's full walk otherwise. The walk costs tens of microseconds per value; the
fast path a few, and autolog writes four values per call (inputs, input messages, output
messages, outputs).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from tracepond.conventions.secrets import might_hold_secret
from tracepond.tracing import serialize


def plain(value: Any) -> Any:
    """A pydantic result as plain data, quietly: openai's ``ParsedChatCompletion`` makes
    pydantic warn about its ``parsed`` field on every dump, and the app must not see that."""
    dump = getattr(value, "model_dump", None)
    if dump is not None and getattr(type(value), "__pydantic_serializer__", None) is not None:
        return dump(mode="json", warnings=False)
    return value


# A key in JSON text: what the secret-key check looks at without walking the value in Python.
_JSON_KEY = re.compile(r'"([^"]{1,128})":')
_FAST_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
_HEADROOM = 64  # as tracepond.tracing.serialize keeps below the cap


def encode_json(value: Any, max_bytes: int) -> tuple[str, bool]:
    """``serialize.encode(value, max_bytes)``, through a C serializer when that gives the same
    text: plain JSON data (what autolog builds, and most requests) or a pydantic model (the
    SDK's responses), under the cap, with no key named like a credential and no
    credential-shaped text. Anything else (openai's omit sentinels, big or secret-looking
    values) takes serialize's full walk, which converts, redacts and truncates. The walk costs
    tens of microseconds per value; this path, a few."""
    text = _fast_text(value, max_bytes)
    if text is not None:
        return text, False
    return serialize.encode(plain(value), max_bytes)


def _fast_text(value: Any, max_bytes: int) -> str | None:
    try:
        if getattr(type(value), "__pydantic_serializer__", None) is not None:
            text = str(value.model_dump_json(warnings=False))
        else:
            text = orjson.dumps(value, option=_FAST_OPTIONS).decode()
    except (TypeError, ValueError):
        return None
    limit = max_bytes - _HEADROOM
    if len(text) > limit // 4 and len(text.encode()) > limit:
        return None
    unchecked = set(_JSON_KEY.findall(text)) - _safe_keys
    for key in unchecked:
        if serialize.is_secret_key(key):
            return None
    if len(_safe_keys) < 10_000:
        _safe_keys.update(unchecked)
    # Credential-shaped text goes to the walk, which redacts each string as the caller's value
    # (JSON escapes such as "\n" would hide a match from a pattern run over the JSON text).
    if might_hold_secret(text):
        return None
    return text


_safe_keys: set[str] = set()  # keys already found not to name a credential
