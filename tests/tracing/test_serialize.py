"""to_json: every kind of value to valid, capped, redacted JSON, never raising."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import pathlib
import subprocess
import sys
import tracemalloc
import uuid
from collections import OrderedDict
from typing import Any

import numpy as np
import pydantic
import pytest

from tracepond.tracing.serialize import (
    REDACTED,
    encode,
    is_secret_key,
    redact_mapping,
    redact_text,
    to_json,
)


def roundtrip(value: Any, max_bytes: int = 65536) -> Any:
    return json.loads(to_json(value, max_bytes=max_bytes))


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    label: str
    tags: set[str] = dataclasses.field(default_factory=set)


class Message(pydantic.BaseModel):
    role: str
    content: str
    api_key: str | None = None
    sent: datetime.datetime | None = None


def test_plain_values_round_trip() -> None:
    value = {"s": "text", "i": 3, "f": 1.5, "b": True, "n": None, "l": [1, [2]], "d": {"k": "v"}}
    assert roundtrip(value) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime.datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05"),
        (datetime.date(2026, 1, 2), "2026-01-02"),
        (datetime.time(3, 4), "03:04:00"),
        (datetime.timedelta(seconds=90), 90.0),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (decimal.Decimal("1.10"), "1.10"),
        (pathlib.PurePosixPath("/a/b"), "/a/b"),
        (Color.RED, "red"),
        (Level.HIGH, 3),
        ((1, "a"), [1, "a"]),
        ({3, 1, 2}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        ({1, "a"}, None),  # unorderable set: kept in iteration order (checked below)
        (2**80, str(2**80)),
        (float("inf"), None),
        (OrderedDict(a=1), {"a": 1}),
        (
            {1: "int key", None: "none key", Color.RED: "enum key"},
            {"1": "int key", "null": "none key", "red": "enum key"},
        ),
    ],
)
def test_standard_library_types(value: Any, expected: Any) -> None:
    result = roundtrip(value)
    if isinstance(value, set) and expected is None:
        assert sorted(map(str, result)) == ["1", "a"]
    else:
        assert result == expected


def test_dataclass_and_pydantic_model() -> None:
    point = Point(1, "p", {"b", "a"})
    assert roundtrip(point) == {"x": 1, "label": "p", "tags": ["a", "b"]}
    message = Message(
        role="user",
        content="hi",
        api_key="sk-live-secret-value-1234567890",
        sent=datetime.datetime(2026, 1, 1),
    )
    assert roundtrip(message) == {
        "role": "user",
        "content": "hi",
        "api_key": REDACTED,
        "sent": "2026-01-01T00:00:00",
    }
    assert roundtrip([Point]) == [repr(Point)]  # a class is an object, not a dataclass value


def test_bytes_give_size_and_preview() -> None:
    data = bytes(range(100))
    result = roundtrip({"blob": data, "ba": bytearray(b"ab"), "mv": memoryview(b"xyz")})
    assert result["blob"]["_type"] == "bytes" and result["blob"]["size"] == 100
    assert len(result["blob"]["preview_base64"]) <= 44  # 32 bytes of base64
    assert result["ba"]["size"] == 2 and result["mv"]["size"] == 3


def test_numpy_scalars_and_arrays() -> None:
    assert roundtrip(np.float32(1.5)) == 1.5
    assert roundtrip(np.int64(7)) == 7
    assert roundtrip(np.bool_(True)) is True
    assert roundtrip(np.arange(6).reshape(2, 3)) == [[0, 1, 2], [3, 4, 5]]
    big = roundtrip(np.zeros(1_000_000), max_bytes=4096)
    assert big["_type"] == "ndarray" and big["shape"] == [1_000_000] and big["dtype"] == "float64"
    assert 0 < len(big["preview"]) < 1000


def test_numpy_is_never_imported_by_tracepond() -> None:
    code = (
        "import sys, tracepond.tracing.serialize as s, tracepond.tracing.spans, "
        "tracepond.tracing.decorator\n"
        "print(s.to_json({'a': [1, 2]}), 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ['{"a":[1,2]}', "False"]


def test_cycles_are_marked() -> None:
    parent: dict[str, Any] = {"name": "p"}
    parent["self"] = parent
    items: list[Any] = [1]
    items.append(items)
    assert roundtrip(parent) == {"name": "p", "self": "[cycle]"}
    assert roundtrip(items) == [1, "[cycle]"]

    @dataclasses.dataclass
    class Node:
        child: Any = None

    node = Node()
    node.child = node
    assert roundtrip(node) == {"child": "[cycle]"}


def test_shared_references_are_not_cycles() -> None:
    shared = {"k": 1}
    assert roundtrip([shared, shared]) == [{"k": 1}, {"k": 1}]


def test_deep_nesting_is_cut() -> None:
    deep: Any = "bottom"
    for _ in range(200):
        deep = [deep]
    text, truncated = encode(deep)
    assert truncated and "[max depth]" in text
    json.loads(text)


def test_generators_and_iterators_are_not_consumed() -> None:
    generator = (i for i in range(3))
    iterator = iter([1, 2])
    result = roundtrip({"gen": generator, "it": iterator})
    assert result["gen"].startswith("<generator object")
    assert next(generator) == 0 and next(iterator) == 1


def test_openai_and_groq_sentinels_are_dropped() -> None:
    import groq
    import openai

    value = {
        "model": "m",
        "temperature": openai.NOT_GIVEN,
        "seed": openai.omit,
        "top_p": groq.NOT_GIVEN,
        "list": [1, openai.NOT_GIVEN],
    }
    assert roundtrip(value) == {"model": "m", "list": [1]}
    assert to_json(openai.NOT_GIVEN) == "null"


def test_unserializable_objects_become_their_repr() -> None:
    class Plain:
        def __repr__(self) -> str:
            return "<Plain>"

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    class BadModel(pydantic.BaseModel):
        value: int

        def model_dump(self, **kwargs: Any) -> Any:  # type: ignore[override]
            raise ValueError("cannot dump")

    result = roundtrip({"plain": Plain(), "hostile": Hostile(), "model": BadModel(value=1)})
    assert result["plain"] == "<Plain>"
    assert result["hostile"] == "<unrepresentable Hostile>"
    assert result["model"] == "BadModel(value=1)"


def test_ten_megabyte_value_is_capped_with_bounded_memory() -> None:
    big = "x" * 10_000_000
    tracemalloc.start()
    try:
        text, truncated = encode(big, max_bytes=65536)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert truncated and len(text.encode()) <= 65536
    cut = json.loads(text)
    assert cut.startswith("xxx") and cut.endswith("…[truncated 9934528 chars]")
    assert peak < 2_000_000  # never a copy of the 10 MB


def test_big_structure_is_cut_inside_and_stays_valid() -> None:
    value = [{"text": "y" * 100, "n": i} for i in range(100_000)]
    text, truncated = encode(value, max_bytes=2048)
    assert truncated and len(text.encode()) <= 2048
    cut = json.loads(text)
    assert cut[0] == {"text": "y" * 100, "n": 0}
    assert cut[-1].startswith("…") and cut[-1].endswith("more items")


def test_value_still_over_the_cap_is_wrapped_with_its_original_size() -> None:
    # Quotes double in size when escaped, so cutting inside is not enough: the whole value is
    # replaced by a marker with a preview of its JSON.
    value = ['"' * 10] * 5000
    text, truncated = encode(value, max_bytes=1024)
    assert truncated and len(text.encode()) <= 1024
    marker = json.loads(text)
    assert marker["_truncated"] is True
    assert marker["original_bytes"] == len(json.dumps(value, separators=(",", ":")))
    assert marker["preview"].startswith('["\\"\\"')


def test_cap_holds_for_text_that_escapes() -> None:
    value = ['"\\' * 1000] * 50
    text, truncated = encode(value, max_bytes=1024)
    assert truncated and len(text.encode()) <= 1024
    assert json.loads(text)["_truncated"] is True


def test_multibyte_text_is_capped_in_bytes() -> None:
    text, truncated = encode("é" * 100_000, max_bytes=1024)
    assert truncated and len(text.encode()) <= 1024
    json.loads(text)


def test_small_value_is_not_marked() -> None:
    assert encode({"a": "b"}, max_bytes=1024) == ('{"a":"b"}', False)


def test_default_cap_comes_from_settings() -> None:
    import tracepond

    tracepond.configure(store=None, max_value_bytes=512)
    assert len(to_json("z" * 5000).encode()) <= 512


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "apikey",
        "API-Key",
        "x-api-key",
        "Authorization",
        "proxy-authorization",
        "password",
        "db_password",
        "passwd",
        "secret",
        "client_secret",
        "access_token",
        "auth_token",
        "refresh_token",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_access_key_id",
        "private_key",
        "cookie",
        "Set-Cookie",
        "openai_api_key",
        "signing_key",
        "x-amz-security-token",
        "token",
        "auth",
        "pass",
        "sig",
        "signature",
        "db_pass",
        "basic_auth",
        "x-auth-token",
        "http.request.header.authorization",
        "http.request.header.cookie",
        "http.response.header.set-cookie",
        "http.request.header.x-api-key",
        "rpc.request.metadata.api-key",
    ],
)
def test_secret_keys_are_redacted_anywhere(key: str) -> None:
    assert is_secret_key(key)
    nested = {"outer": [{"config": {key: "value-1"}}], key: "value-2"}
    result = roundtrip(nested)
    assert result[key] == REDACTED
    assert result["outer"][0]["config"][key] == REDACTED


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "max_completion_tokens",
        "gen_ai.usage.input_tokens",
        "gen_ai.request.max_tokens",
        "llm.token_count.prompt",
        "tokens",
        "author",
        "passage",
        "signal",
        "cache_key",
        "sort_key",
        "key",
        "monkey",
        "keyword",
        "top_k",
        "model",
    ],
)
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not is_secret_key(key)
    assert roundtrip({key: 5}) == {key: 5}


@pytest.mark.parametrize(
    "text",
    [
        "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        "sk-ant-api03-abcdefghijklmnopqrstuvwx",
        "gsk_abcdefghijklmnopqrstuvwxyz0123",
        "AKIAIOSFODNN7EXAMPLE",
        "Bearer eyJhbGciOiJIUzI1NiJ9.payload",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ],
)
def test_key_shaped_values_are_redacted(text: str) -> None:
    assert roundtrip({"note": f"use {text} here"}) == {"note": f"use {REDACTED} here"}
    assert redact_text(text) == REDACTED


def test_ordinary_text_is_kept() -> None:
    text = "ask the risk-assessment desk; skimming is fine; AKIA is a prefix"
    assert redact_text(text) == text
    prose = 'max_tokens=256, input_tokens: 12, the author: Jane, {"auth": false, "token": 42}'
    assert redact_text(prose) == prose  # counts, words and literals are not credentials


@pytest.mark.parametrize(
    "text,expected",
    [
        ("postgres://app:PASS@db:5432/app", f"postgres://app:{REDACTED}@db:5432/app"),
        ("redis://:s3cr3t@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
        ("see https://user:pw@example.com/x", f"see https://user:{REDACTED}@example.com/x"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", f"aws_secret_access_key={REDACTED}"),
        ("export DB_PASSWORD='hunter2'", f"export DB_PASSWORD='{REDACTED}'"),
        ("token: abcdef123", f"token: {REDACTED}"),
        ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: {REDACTED}"),
        ('{"client_secret": "xyz"}', f'{{"client_secret": "{REDACTED}"}}'),
    ],
)
def test_secrets_in_free_text_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert roundtrip({"log": text}) == {"log": expected}
    assert redact_text("http://host:8080/p@x") == "http://host:8080/p@x"  # a port is no password


def test_redact_mapping_is_shallow_and_case_insensitive() -> None:
    headers = {"Authorization": "Bearer x", "Content-Type": "json", "X-API-KEY": "k"}
    assert redact_mapping(headers) == {
        "Authorization": REDACTED,
        "Content-Type": "json",
        "X-API-KEY": REDACTED,
    }
    assert headers["Authorization"] == "Bearer x"  # the caller's mapping is untouched


def test_never_raises_and_is_always_json() -> None:
    class Weird(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise RuntimeError("broken mapping")

    text = to_json(Weird(a=1))
    assert "_unserializable" in json.loads(text)
    assert math.isnan(float("nan"))  # nan itself becomes null
    assert to_json(float("nan")) == "null"


def test_flat_arguments_with_escapes_still_respect_the_cap() -> None:
    text, truncated = encode({"q": '"' * 900}, max_bytes=1024)
    assert truncated and len(text.encode()) <= 1024
    json.loads(text)
    assert encode({"q": "plain", "n": 1, "ok": True, "x": None}, max_bytes=1024) == (
        '{"q":"plain","n":1,"ok":true,"x":null}',
        False,
    )
