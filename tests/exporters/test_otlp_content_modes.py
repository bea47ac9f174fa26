"""The GenAI convention's switches on what goes over OTLP, against a real OTLP/HTTP receiver:
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT (NO_CONTENT, SPAN_ONLY, EVENT_ONLY,
SPAN_AND_EVENT, true, false), OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental and the one
version setting TRACEPOND_GENAI_SEMCONV; bad values are ConfigErrors naming the variable and
change nothing; the local store keeps the content whatever goes out."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

import tracepond
from tests.interop.receivers import HttpReceiver, ReceivedSpan
from tracepond.config import build_settings, get_settings
from tracepond.conventions import attributes as attr
from tracepond.errors import ConfigError
from tracepond.testing import FakeOpenAIServer

DETAILS = "gen_ai.client.inference.operation.details"
CACHE_CREATION = attr.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
CACHE_WRITE = "gen_ai.usage.cache_write.input_tokens"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as made:
        yield made


def send_one(receiver: HttpReceiver, store: str) -> ReceivedSpan:
    """One span with GenAI content, recorded through tracepond's own API, as the collector got it."""
    tracepond.configure(store=store, otlp_endpoint=receiver.base_url)
    with tracepond.start_span("chat m", span_type="CHAT_MODEL") as span:
        span.set_inputs({"q": "secret plan"})
        span.set_attribute(attr.GEN_AI_OPERATION_NAME, "chat")
        span.set_attribute(attr.GEN_AI_REQUEST_MODEL, "m")
        span.set_attribute(attr.GEN_AI_INPUT_MESSAGES, '[{"role": "user", "content": "secret"}]')
        span.set_attribute(attr.GEN_AI_OUTPUT_MESSAGES, '[{"role": "assistant"}]')
        span.set_attribute(CACHE_CREATION, 4)
    assert tracepond.flush(10) and receiver.wait_for_spans(1)
    (sent,) = receiver.spans
    return sent


def events(sent: ReceivedSpan) -> dict[str, dict[str, object]]:
    return {name: attributes for name, attributes in sent.events}


@pytest.mark.parametrize(
    ("value", "on_span"),
    [
        ("NO_CONTENT", False),
        ("false", False),
        ("no_content", False),
        ("SPAN_ONLY", True),
        ("true", True),
        ("Span_Only", True),
    ],
)
def test_no_content_and_span_only(
    value: str, on_span: bool, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    sent = send_one(receiver, str(tmp_path / "t.duckdb"))
    assert DETAILS not in events(sent) and sent.attributes[attr.GEN_AI_REQUEST_MODEL] == "m"
    if on_span:
        assert "secret" in str(sent.attributes[attr.GEN_AI_INPUT_MESSAGES])
        assert attr.INPUTS in sent.attributes
    else:
        assert not attr.CONTENT_ATTRIBUTES & set(sent.attributes)


def test_event_only_sends_content_as_the_inference_details_event(
    receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    store = str(tmp_path / "t.duckdb")
    sent = send_one(receiver, store)
    assert not attr.CONTENT_ATTRIBUTES & set(sent.attributes)  # not on the span
    details = events(sent)[DETAILS]
    assert "secret" in str(details[attr.GEN_AI_INPUT_MESSAGES])
    assert details[attr.GEN_AI_OUTPUT_MESSAGES] == '[{"role": "assistant"}]'
    assert details[attr.GEN_AI_OPERATION_NAME] == "chat"
    assert details[attr.GEN_AI_REQUEST_MODEL] == "m"
    assert attr.INPUTS not in details  # tracepond's own inputs stay home in this mode
    (stored,) = tracepond.sql("SELECT inputs, attributes FROM spans", store=store).fetchall()
    assert json.loads(stored[0]) == {"q": "secret plan"}  # the store keeps everything
    assert "secret" in json.loads(stored[1])[attr.GEN_AI_INPUT_MESSAGES]


def test_span_and_event(receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_and_event")
    sent = send_one(receiver, str(tmp_path / "t.duckdb"))
    assert "secret" in str(sent.attributes[attr.GEN_AI_INPUT_MESSAGES])
    assert "secret" in str(events(sent)[DETAILS][attr.GEN_AI_INPUT_MESSAGES])


def test_event_only_through_an_autologged_openai_call(
    receiver: HttpReceiver, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    tracepond.configure(store=str(tmp_path / "t.duckdb"), otlp_endpoint=receiver.base_url)
    tracepond.autolog(providers=["openai"])
    try:
        with FakeOpenAIServer() as server:
            client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}]
            )
    finally:
        tracepond.autolog(disable=True)
    assert tracepond.flush(10) and receiver.wait_for_spans(1)
    (sent,) = receiver.spans
    assert attr.GEN_AI_INPUT_MESSAGES not in sent.attributes
    details = events(sent)[DETAILS]
    assert "hello there" in str(details[attr.GEN_AI_INPUT_MESSAGES])
    assert details[attr.GEN_AI_PROVIDER_NAME] == "openai"


def test_configure_takes_the_mode_and_the_boolean(tmp_path) -> None:
    settings = tracepond.configure(store=str(tmp_path / "t.duckdb"), content_mode="event_only")
    assert (settings.content_mode, settings.export_content) == ("EVENT_ONLY", True)
    settings = tracepond.configure(export_content=False)
    assert (settings.content_mode, settings.export_content) == ("NO_CONTENT", False)
    settings = tracepond.configure(export_content=True)
    assert settings.content_mode == "SPAN_ONLY"


def test_bad_values_name_the_variable_and_change_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    before = tracepond.configure(store=str(tmp_path / "t.duckdb"), content_mode="SPAN_ONLY")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "sometimes")
    with pytest.raises(ConfigError, match="OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="):
        build_settings()
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    monkeypatch.setenv("TRACEPOND_GENAI_SEMCONV", "2.0")
    with pytest.raises(
        ConfigError, match=r"TRACEPOND_GENAI_SEMCONV='2.0': expected one of 1.41, 1.42"
    ):
        build_settings()
    with pytest.raises(ConfigError, match="contradicts"):
        tracepond.configure(export_content=False, content_mode="EVENT_ONLY")
    with pytest.raises(ConfigError, match="content_mode="):
        tracepond.configure(content_mode="loud")
    assert get_settings() == before


@pytest.mark.parametrize(
    ("opt_in", "version", "expected"),
    [
        (None, None, CACHE_CREATION),
        ("gen_ai_latest_experimental", None, CACHE_WRITE),
        ("http,gen_ai_latest_experimental", None, CACHE_WRITE),
        ("http", None, CACHE_CREATION),
        ("gen_ai_latest_experimental", "1.41", CACHE_CREATION),  # the explicit setting wins
        (None, "1.42", CACHE_WRITE),
    ],
)
def test_one_version_setting_picks_the_names_sent(
    opt_in: str | None,
    version: str | None,
    expected: str,
    receiver: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,
) -> None:
    if opt_in is not None:
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", opt_in)
    if version is not None:
        monkeypatch.setenv("TRACEPOND_GENAI_SEMCONV", version)
    store = str(tmp_path / "t.duckdb")
    sent = send_one(receiver, store)
    assert sent.attributes[expected] == 4
    assert ({CACHE_CREATION, CACHE_WRITE} - {expected}).isdisjoint(sent.attributes)
    (stored,) = tracepond.sql("SELECT attributes FROM spans", store=store).fetchall()
    assert json.loads(stored[0])[CACHE_CREATION] == 4  # the store keeps the recorded name
