"""Switching Gemini autolog on and off, bad input, and faults: each with what the caller sees
(the SDK's own result or exception, unchanged) and what the span and the store keep.

This module is also a provider module whose client library lives under a package that is not
installed (``PACKAGE`` is dotted, like ``google.genai``), so "missing" runs the real check.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.genai import errors, models, types
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import ValidationError

import tracepond
from tests.autolog.gemini_helpers import MODEL, attributes, client_for, content, one_span, seen
from tracepond.autolog import patched, register_provider, unregister_provider
from tracepond.errors import ProviderNotInstalledError
from tracepond.testing.gemini import RETRY_DELAY, FakeGeminiServer

# --- this module as a provider whose (dotted) client package is missing ----------------------
NAME = "ghost-genai"
PACKAGE = "tracepond_ghost_vendor.genai"  # the parent package is not installed either
INSTALL_HINT = 'pip install "tracepond-ghost-genai"'


def patch(patcher: Any, options: Any) -> None:
    raise AssertionError("never called: the package is not installed")


PATCHED = ("_generate_content", "_generate_content_stream", "embed_content")


@pytest.fixture
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as fake:
        yield fake


@pytest.fixture
def ghost() -> Iterator[str]:
    register_provider(NAME, __name__)
    yield NAME
    unregister_provider(NAME)


# --- switching ---------------------------------------------------------------------------------


def test_a_client_made_before_autolog_is_traced_and_disable_undoes_every_patch(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    originals = {
        cls: {name: vars(cls)[name] for name in PATCHED}
        for cls in (models.Models, models.AsyncModels)
    }
    with client_for(gemini) as client:
        client.models.generate_content(model=MODEL, contents="before")
        assert spans.get_finished_spans() == ()
        assert tracepond.autolog(providers=["gemini"]) == ["gemini"]
        assert len(patched()["gemini"]) == 6
        for cls, before in originals.items():
            assert all(vars(cls)[name] is not before[name] for name in PATCHED)
        client.models.generate_content(model=MODEL, contents="during")
        assert len(spans.get_finished_spans()) == 1
        assert tracepond.autolog(disable=True) == []
        for cls, before in originals.items():
            assert all(vars(cls)[name] is before[name] for name in PATCHED)
        client.models.generate_content(model=MODEL, contents="after")
        list(client.models.generate_content_stream(model=MODEL, contents="after"))
        client.models.embed_content(model="gemini-embedding-001", contents="after")
    assert len(spans.get_finished_spans()) == 1


def test_autolog_without_names_includes_gemini_and_patches_once(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tracepond.autolog")
    assert "gemini" in tracepond.autolog()
    first = patched()["gemini"]
    tracepond.autolog(providers=["gemini"])
    assert patched()["gemini"] == first
    assert any("patched gemini" in r.getMessage() for r in caplog.records)
    with client_for(gemini) as client:
        client.models.generate_content(model=MODEL, contents="once")
    assert len(spans.get_finished_spans()) == 1


def test_a_dotted_package_whose_parent_is_missing(
    ghost: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tracepond")
    assert ghost not in tracepond.autolog()  # not named: skipped quietly
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    with pytest.raises(ProviderNotInstalledError) as raised:
        tracepond.autolog(providers=[ghost])
    assert INSTALL_HINT in str(raised.value) and PACKAGE in str(raised.value)


# --- bad input ---------------------------------------------------------------------------------


def observe(server: FakeGeminiServer, **call: Any) -> Any:
    server.reset()
    with client_for(server) as client:
        try:
            return seen(client.models.generate_content(model=MODEL, **call))
        except Exception as exc:
            return seen(exc)


@pytest.mark.parametrize(
    "call",
    [
        {"contents": 12345},  # not content: the SDK's ValidationError, after our span started
        {"contents": "x", "config": {"temprature": 0.1}},  # a misspelt option: refused up front
        {"contents": "x", "config": {"temperature": "hot"}},
    ],
    ids=["contents", "option-name", "option-value"],
)
def test_bad_input_reaches_the_caller_as_the_sdk_raises_it_and_the_store_keeps_nothing_else(
    store_path: Path, gemini: FakeGeminiServer, call: dict[str, Any]
) -> None:
    tracepond.configure(store=str(store_path))
    untraced = observe(gemini, **call)
    assert untraced[0] is ValidationError
    tracepond.autolog(providers=["gemini"])
    assert observe(gemini, **call) == untraced
    assert gemini.requests == []  # nothing was sent
    tracepond.flush()
    if call["contents"] != 12345:  # refused before any request began: nothing was written
        assert not store_path.exists()
        return
    # the SDK raised inside the request it was building: that request's span says so
    rows = tracepond.sql("SELECT status, status_message FROM spans").fetchall()
    ((status, message),) = rows
    assert status == "ERROR" and "ValidationError" in message


def test_the_api_key_never_reaches_the_span(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    tracepond.autolog(providers=["gemini"])
    key = "AIzaSyDifferentKeyThatMustNotLeak0123456"
    options = types.HttpOptions(
        base_url=gemini.base_url, headers={"x-goog-api-key": key}, api_version="v1beta"
    )
    with client_for(gemini) as client:
        client.models.generate_content(
            model=MODEL, contents="hi", config=types.GenerateContentConfig(http_options=options)
        )
    assert gemini.requests[0].headers["x-goog-api-key"] == key
    assert key not in str(attributes(one_span(spans)))


# --- faults ------------------------------------------------------------------------------------


def test_a_429_carries_the_retry_info_to_the_caller_and_the_span(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    tracepond.autolog(providers=["gemini"])
    gemini.fail_next(429, "Resource has been exhausted (e.g. check quota).")
    with client_for(gemini) as client, pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model=MODEL, contents="hi")
    assert raised.value.code == 429 and raised.value.status == "RESOURCE_EXHAUSTED"
    (detail,) = raised.value.details["error"]["details"]
    assert detail["retryDelay"] == RETRY_DELAY
    span = one_span(spans)
    assert span.status.status_code == StatusCode.ERROR
    assert attributes(span)["http.response.status_code"] == 429
    assert "RESOURCE_EXHAUSTED" in (span.status.description or "")


def test_retries_inside_the_sdk_are_one_span_that_ends_ok(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    tracepond.autolog(providers=["gemini"])
    gemini.fail_next(503, "The model is overloaded.")
    retry = types.HttpRetryOptions(attempts=2, initial_delay=0.01, max_delay=0.01, jitter=0)
    options = types.HttpOptions(base_url=gemini.base_url, retry_options=retry)
    with client_for(gemini, http_options=options) as c:
        assert c.models.generate_content(model=MODEL, contents="again").text == "Echo: again"
    assert len(gemini.requests) == 2
    span = one_span(spans)
    assert span.status.status_code == StatusCode.OK


def test_a_server_that_is_gone(spans: InMemorySpanExporter) -> None:
    tracepond.autolog(providers=["gemini"])
    server = FakeGeminiServer().start()
    client = client_for(server)
    server.stop()
    with pytest.raises(Exception) as raised:
        client.models.generate_content(model=MODEL, contents="hello?")
    span = one_span(spans)
    assert span.status.status_code == StatusCode.ERROR
    assert attributes(span)["error.type"] == type(raised.value).__name__
    client.close()


def raising_tool(city: str) -> str:
    """Looks up nothing: it fails."""
    raise RuntimeError(f"no weather service for {city}")


def test_an_exception_inside_a_tool_goes_to_the_model_as_the_sdk_sends_it(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer
) -> None:
    tracepond.autolog(providers=["gemini"])
    with client_for(gemini) as client:
        reply = client.models.generate_content(
            model=MODEL, contents="Paris", config={"tools": [raising_tool]}
        )
    assert "no weather service for Paris" in (reply.text or "")  # the SDK caught it
    asked, answered = spans.get_finished_spans()
    assert asked.status.status_code == answered.status.status_code == StatusCode.OK
    (response,) = content(answered, "gen_ai.input.messages")[2]["parts"]
    assert response["type"] == "tool_call_response"
    assert "no weather service for Paris" in response["response"]["error"]


def test_a_redact_hook_that_raises_drops_content_and_the_call_goes_on(
    spans: InMemorySpanExporter, gemini: FakeGeminiServer, caplog: pytest.LogCaptureFixture
) -> None:
    def hook(span_name: str, kind: str, value: Any) -> Any:
        raise ValueError("the hook is broken")

    tracepond.configure(store=None, redact=hook)
    tracepond.autolog(providers=["gemini"])
    with client_for(gemini) as client:
        assert client.models.generate_content(model=MODEL, contents="x").text == "Echo: x"
    a = attributes(one_span(spans))
    assert a["tracepond.content.dropped"] is True
    assert "gen_ai.input.messages" not in a and a["gen_ai.usage.output_tokens"] == 2
