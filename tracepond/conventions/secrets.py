"""What a credential looks like: the keys that name one and the shapes of the values.

One set of rules for every layer: the serializer applies them to traced inputs and outputs
(tracepond.tracing.serialize), the store to every attribute it writes, whoever recorded it
(tracepond.store.rows), and the OTLP exporter to every attribute it sends
(tracepond.exporters.otlp). DESIGN.md "Details a user relies on" lists what they cover.

- Keys: ``api_key``, ``*secret*``, ``*password*``, ``pass``, ``token``, ``auth``,
  ``authorization``, ``cookie``, ``sig``/``signature``, ``*_key`` of a credential, and attribute
  keys whose last part is one of these (``http.request.header.authorization``). Token counts
  (``max_tokens``, ``input_tokens``) are not credentials.
- Values: provider credential shapes (``sk-...``, ``AKIA...``, ``Bearer ...``), passwords inside
  URLs and DSNs (``postgres://app:PASS@db``), and ``name=value`` / ``name: value`` in free text
  where the name is a credential's (``aws_secret_access_key=...``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

_SECRET_KEYS = frozenset(
    {
        "api_key",
        "apikey",
        "api_token",
        "x_api_key",
        "api_key_id",
        "x_goog_api_key",
        "ocp_apim_subscription_key",
        "subscription_key",
        "authorization",
        "proxy_authorization",
        "www_authenticate",
        "bearer",
        "auth",
        "password",
        "passwd",
        "pass",
        "pwd",
        "passphrase",
        "secret",
        "client_secret",
        "secret_key",
        "token",
        "access_token",
        "auth_token",
        "refresh_token",
        "id_token",
        "session_token",
        "bearer_token",
        "oauth_token",
        "csrf_token",
        "xsrf_token",
        "security_token",
        "x_amz_security_token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "private_key",
        "signing_key",
        "encryption_key",
        "master_key",
        "cookie",
        "set_cookie",
        "credentials",
        "credential",
        "sig",
        "signature",
    }
)
_SECRET_WORDS = ("password", "passwd", "secret", "api_key", "apikey", "private_key")
# A key ending in one of these names a credential (x_auth_token, db_pass, basic_auth, x_amz_sig);
# plural counts (max_tokens) do not end in them.
_SECRET_SUFFIXES = (
    "_token",
    "_auth",
    "_authorization",
    "_cookie",
    "_pass",
    "_pwd",
    "_sig",
    "_signature",
    "_credentials",
)
_SECRET_KEY_PREFIXES = ("private", "signing", "encryption", "access", "secret", "master")

# Values shaped like provider credentials, wherever they appear in text.
_CREDENTIAL_VALUE = re.compile(
    r"\b(?:"
    r"sk-[A-Za-z0-9_\-]{16,}"  # OpenAI, Anthropic (sk-ant-...), many OpenAI-compatible APIs
    r"|gsk_[A-Za-z0-9]{16,}"  # Groq
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r")"
    r"|\bBearer\s+[A-Za-z0-9._~+/\-]{16,}=*"
)
# Their literal beginnings, one scan (a regex of plain alternatives beats a dozen `in` checks)
# that decides whether the full pattern runs.
_CREDENTIAL_MARKS = re.compile(r"sk-|gsk_|AKIA|ASIA|gh[pousr]_|github_pat_|xox|AIza|hf_|Bearer")
# scheme://user:PASSWORD@host (URLs, DSNs): the password goes, the rest stays readable.
_URL_PASSWORD = re.compile(r"://([^\s:/@?#\[\]]*):([^\s@/?#]+)@")
# name=value or name: value in free text (logs, commands, config dumps), matched only where a
# credential's name was found (a case-insensitive alternation run over all the text costs
# milliseconds per 10 kB). The name must end right before the separator, so "max_tokens=5" is
# no token; numbers and JSON literals stay.
_KEY_WORDS = (  # where a name of _KEYED_VALUE can begin
    "secret", "passw", "pwd", "passphrase", "token", "api", "access", "private", "auth",
)  # fmt: skip
_KEYED_VALUE = re.compile(
    r"(?i)(?:secret|password|passwd|pwd|passphrase|token|api[_\-]?key|access[_\-]?key"
    r"|private[_\-]?key|authorization|auth)"
    r"[\"']?\s*[=:]\s*[\"']?"
    r"(?!\[REDACTED\]|(?:true|false|null)\b|\d+(?![^\s\"'&;,}\])\\]))"
    r"((?:(?:basic|bearer|digest|token)\s+)?[^\s\"'&;,{}\[\]()\\]+)"
)


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True for keys that name credentials (``api_key``, ``Authorization``, ``token``,
    ``http.request.header.cookie``...), never for token counts (``max_tokens``,
    ``input_tokens``) or plain keys (``key``, ``cache_key``)."""
    normal = key.strip().lower().replace("-", "_")
    last = normal.rsplit(".", 1)[-1]  # attribute namespaces: http.request.header.authorization
    if last in _SECRET_KEYS or any(word in last for word in _SECRET_WORDS):
        return True
    if last.endswith(_SECRET_SUFFIXES):
        return True
    if last.endswith("_key"):
        return last[:-4].rsplit("_", 1)[-1] in _SECRET_KEY_PREFIXES or "api" in last
    return False


def might_hold_secret(text: str) -> bool:
    """False when ``text`` certainly holds no credential that :func:`redact_text` replaces: a
    cheap test that lets callers skip the work."""
    if _CREDENTIAL_MARKS.search(text) is not None:
        return True
    if "://" in text and _URL_PASSWORD.search(text) is not None:
        return True
    return bool(_keyed_values(text, first_only=True))


def redact_text(text: str) -> str:
    """``text`` with credentials replaced: credential shapes (sk-..., AKIA..., Bearer ...),
    passwords in URLs and DSNs, and the values of ``secret=...`` / ``password: ...``."""
    if len(text) <= _SHORT:  # model names, operations, addresses: the same few, span after span
        return _redact_short(text)
    return _redact(text)


_SHORT = 256


@functools.lru_cache(maxsize=8192)
def _redact_short(text: str) -> str:
    return _redact(text)


def _redact(text: str) -> str:
    if _CREDENTIAL_MARKS.search(text) is not None:
        text = _CREDENTIAL_VALUE.sub(REDACTED, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"://\1:{REDACTED}@", text)
    values = _keyed_values(text)
    if not values:
        return text
    parts: list[str] = []
    done = 0
    for start, end in values:
        parts.extend((text[done:start], REDACTED))
        done = end
    parts.append(text[done:])
    return "".join(parts)


_WINDOW = 1 << 16  # text is lowered a window at a time: a 10 MB value is never copied whole
_OVERLAP = 32  # longer than any name, so a name across a window's end is found in that window


def _keyed_values(text: str, first_only: bool = False) -> list[tuple[int, int]]:
    """Where the values of ``name=value`` pairs with a credential's name are, in order."""
    spans: dict[int, int] = {}
    for window in range(0, len(text), _WINDOW):
        piece = text[window : window + _WINDOW + _OVERLAP]
        lower = piece.lower()
        if len(lower) != len(piece):  # a character whose lower case is longer: positions move
            lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in piece)
        for word in _KEY_WORDS:
            at = lower.find(word)
            while at != -1 and at < _WINDOW:
                match = _KEYED_VALUE.match(text, window + at)
                if match is not None:
                    if first_only:
                        return [match.span(1)]
                    spans.setdefault(match.start(1), match.end(1))
                at = lower.find(word, at + len(word))
    ordered: list[tuple[int, int]] = []
    for start in sorted(spans):
        if not ordered or start >= ordered[-1][1]:
            ordered.append((start, spans[start]))
    return ordered


def redact_value(key: str, value: Any) -> Any:
    """One attribute's value as it may be stored or sent: REDACTED under a credential's key,
    text (and lists of text) scrubbed, anything else as it is."""
    if is_secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, (list, tuple)) and any(isinstance(item, str) for item in value):
        return type(value)(redact_text(item) if isinstance(item, str) else item for item in value)
    return value


def redacted_attributes(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """``attributes`` with every credential replaced; the same object when there was none, so
    the common case copies nothing."""
    changed: dict[str, Any] | None = None
    for key, value in attributes.items():
        clean = redact_value(key, value)
        if clean is not value and clean != value:
            if changed is None:
                changed = dict(attributes)
            changed[key] = clean
    return attributes if changed is None else changed
