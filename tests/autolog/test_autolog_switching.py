"""Switching autolog on and off, and what it keeps out of the store.

Also the provider interface as a third party would use it: this module is itself a provider
module (``NAME``, ``PACKAGE``, ``INSTALL_HINT``, ``patch``) whose client library is not installed,
registered with ``register_provider``, so "named but missing" runs the real import check.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.resources.chat import AsyncCompletions, Completions
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tracepond.autolog import patched, register_provider, unregister_provider
from tracepond.errors import ConfigError, ProviderNotInstalledError
from tracepond.testing import FakeOpenAIServer
from tracepond.tracing.suppress import suppressed

# --- this module as a provider whose client library is missing -------------------------------
NAME = "ghost"
PACKAGE = "tracepond_ghost_sdk_that_is_not_installed"
INSTALL_HINT = 'pip install "tracepond-ghost-sdk"'


def patch(patcher: Any, options: Any) -> None:
    raise AssertionError("never called: the package is not installed")


MODEL = "gpt-4o-mini"
ASK = [{"role": "user", "content": "hello"}]
CONTENT_KEYS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "tracepond.inputs",
    "tracepond.outputs",
}


@pytest.fixture
def ghost() -> Iterator[str]:
    register_provider(NAME, __name__)
    yield NAME
    unregister_provider(NAME)


def chat(client: openai.OpenAI, **extra: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=ASK, **extra)


def test_client_created_before_autolog_is_traced(
    spans: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    chat(client)
    assert spans.get_finished_spans() == ()
    tracepond.autolog()
    chat(client)
    assert len(spans.get_finished_spans()) == 1


def test_disable_restores_every_original(
    spans: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    originals = {cls: dict(vars(cls)) for cls in (Completions, AsyncCompletions)}
    assert tracepond.autolog(providers=["openai"]) == ["openai"]
    assert vars(Completions)["create"] is not originals[Completions]["create"]
    raw = client.chat.completions.with_raw_response  # caches bound patched methods
    assert tracepond.autolog(disable=True) == []
    assert patched() == {}
    for cls, before in originals.items():
        assert vars(cls)["create"] is before["create"]
        assert vars(cls)["parse"] is before["parse"]
    chat(client)
    raw.create(model=MODEL, messages=ASK).parse()  # the cached wrapper is inert now
    assert spans.get_finished_spans() == ()


def test_autolog_twice_patches_once(spans: InMemorySpanExporter, client: openai.OpenAI) -> None:
    tracepond.autolog(providers=["openai"])
    first = patched()
    tracepond.autolog(providers=["openai"])
    tracepond.autolog()
    assert patched()["openai"] == first["openai"]
    chat(client)
    assert len(spans.get_finished_spans()) == 1


def test_what_was_patched_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tracepond.autolog")
    tracepond.autolog(providers=["openai"])
    (record,) = [r for r in caplog.records if "patched openai" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert "Completions.create" in record.getMessage()
    assert "Responses.parse" in record.getMessage()


def test_named_provider_not_installed_raises_with_the_hint(ghost: str) -> None:
    with pytest.raises(ProviderNotInstalledError) as raised:
        tracepond.autolog(providers=["openai", ghost])
    assert INSTALL_HINT in str(raised.value)
    assert PACKAGE in str(raised.value)
    assert isinstance(raised.value, ImportError)


def test_provider_not_installed_and_not_named_is_skipped_quietly(
    ghost: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tracepond")
    assert ghost not in tracepond.autolog()
    assert "openai" in patched()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_unknown_provider_name_is_refused_and_nothing_is_patched() -> None:
    with pytest.raises(ConfigError, match="'opneai'"):
        tracepond.autolog(providers=["opneai"])
    assert patched() == {}


def test_bad_prices_refused_before_anything_is_patched() -> None:
    with pytest.raises(ConfigError, match="'input'"):
        tracepond.autolog(prices={"my-model": {"input": -1, "output": 1}})
    assert patched() == {}


def test_suppressed_calls_are_not_traced(
    traced: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    with suppressed():
        chat(client)
    assert traced.get_finished_spans() == ()


@pytest.mark.parametrize("switch", ["autolog", "configure"])
def test_capture_content_false_keeps_content_out(
    switch: str, spans: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    if switch == "autolog":
        tracepond.autolog(capture_content=False)
    else:
        tracepond.configure(store=None, capture_content=False)
        tracepond.autolog()
    chat(client, tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
    client.responses.create(model=MODEL, input="hi", instructions="Be brief.")
    list(chat(client, stream=True))
    for span in spans.get_finished_spans():
        attributes = dict(span.attributes or {})
        assert not CONTENT_KEYS & set(attributes), span.name
        assert attributes["gen_ai.request.model"] == MODEL  # the rest is still recorded


def test_a_later_plain_autolog_keeps_capture_content_false(
    spans: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    tracepond.autolog(capture_content=False)
    tracepond.autolog()  # says nothing about content: the earlier "no" stands
    tracepond.autolog(providers=["openai"])
    chat(client)
    list(chat(client, stream=True))
    finished = spans.get_finished_spans()
    assert len(finished) == 2
    for span in finished:
        attributes = dict(span.attributes or {})
        assert not CONTENT_KEYS & set(attributes), span.name
        assert attributes["gen_ai.request.model"] == MODEL  # the call itself is still recorded


def test_disabling_everything_forgets_the_options(
    spans: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    tracepond.autolog(capture_content=False)
    tracepond.autolog(disable=True)
    tracepond.autolog()  # a fresh start: content follows configure() again (true by default)
    chat(client)
    (span,) = spans.get_finished_spans()
    assert "gen_ai.input.messages" in dict(span.attributes or {})


def test_redact_hook_sees_content_and_can_drop_it(
    spans: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    seen: list[str] = []

    def redact(span_name: str, kind: str, value: Any) -> Any:
        seen.append(kind)
        return tracepond.tracing.serialize.DROP if kind == "outputs" else value

    tracepond.configure(store=None, redact=redact)
    tracepond.autolog()
    chat(client)
    attributes = dict(spans.get_finished_spans()[0].attributes or {})
    assert set(seen) == {"inputs", "outputs"}
    assert "gen_ai.input.messages" in attributes
    assert "gen_ai.output.messages" not in attributes
    assert attributes["tracepond.content.dropped"] is True


def test_messages_given_as_a_generator_are_left_to_the_sdk(
    traced: InMemorySpanExporter, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=(m for m in ASK))
    assert reply.choices[0].message.content == "Echo: hello"
    assert server.requests[-1].json()["messages"] == ASK
    assert len(traced.get_finished_spans()) == 1


def test_azure_client_is_recorded_as_azure(
    traced: InMemorySpanExporter, server: FakeOpenAIServer, api_key: str
) -> None:
    with openai.AzureOpenAI(
        api_key=api_key,
        azure_endpoint=server.url,
        azure_deployment="my-gpt",
        api_version="2024-10-21",
        max_retries=0,
    ) as azure:
        azure.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert server.requests[-1].path == "/openai/deployments/my-gpt/chat/completions"
    attributes = dict(traced.get_finished_spans()[0].attributes or {})
    assert attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert "tracepond.cost.usd" not in attributes  # no built-in Azure prices: no guessed cost


def test_secrets_never_reach_the_store(
    configured: Any, store_path: Path, server: FakeOpenAIServer, api_key: str
) -> None:
    tracepond.autolog()
    secret_header = "Bearer " + "Hdr" + "S3cr3tHeaderValue" * 2
    with openai.OpenAI(api_key=api_key, base_url=server.base_url, max_retries=0) as client:
        chat(client, extra_headers={"Authorization": secret_header, "api-key": api_key})
        list(chat(client, stream=True))
        client.embeddings.create(model="text-embedding-3-small", input="x")
        server.fail_next(401, f"Incorrect API key provided: {api_key}")
        with pytest.raises(openai.AuthenticationError):
            chat(client)
    assert tracepond.flush()
    assert server.requests[0].headers["authorization"] == secret_header  # the key was really used
    tracepond.configure(store=None)  # the writer lets go of the file
    data = store_path.read_bytes()
    for secret in (api_key, "S3cr3tK3y", "S3cr3tHeaderValue"):
        assert secret.encode() not in data
    rows = tracepond.sql(
        "SELECT attributes, inputs, outputs, status_message FROM spans "
        "UNION ALL SELECT attributes, NULL, NULL, NULL FROM span_events",
        store=str(store_path),
    ).fetchall()
    assert len(rows) >= 5
    text = json.dumps(rows)
    assert "S3cr3tK3y" not in text and "S3cr3tHeaderValue" not in text


def test_stored_spans_and_trace(configured: Any, store_path: Path, client: openai.OpenAI) -> None:
    tracepond.autolog()
    with tracepond.start_span("answer", span_type="CHAIN"):
        chat(client)
        client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert tracepond.flush()
    rows = tracepond.sql(
        "SELECT span_type, provider, model, input_tokens, output_tokens, status, name "
        "FROM spans WHERE provider IS NOT NULL ORDER BY start_time",
        store=str(store_path),
    ).fetchall()
    assert rows == [
        ("CHAT_MODEL", "openai", MODEL, 1, 2, "OK", "chat gpt-4o-mini"),
        (
            "EMBEDDING",
            "openai",
            "text-embedding-3-small",
            1,
            None,
            "OK",
            "embeddings text-embedding-3-small",
        ),
    ]
    (trace_id,) = tracepond.sql("SELECT trace_id FROM traces", store=str(store_path)).fetchall()[0]
    trace = tracepond.get_trace(trace_id, store=str(store_path))
    assert trace is not None
    assert [span.name for span in trace.spans] == [
        "answer",
        "chat gpt-4o-mini",
        "embeddings text-embedding-3-small",
    ]


def test_disable_leaves_a_wrapper_stacked_by_another_library_working(
    spans: InMemorySpanExporter, client: openai.OpenAI
) -> None:
    import wrapt

    calls: list[str] = []

    def theirs(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        calls.append("theirs")
        return wrapped(*args, **kwargs)

    tracepond.autolog(providers=["openai"])
    handle = wrapt.wrap_function_wrapper(Completions, "create", theirs)
    try:
        tracepond.autolog(disable=True)
        chat(client)
        assert calls == ["theirs"]  # their wrapper still runs
        assert spans.get_finished_spans() == ()  # ours, left under theirs, is inert
    finally:
        Completions.create = handle.__wrapped__.__wrapped__  # take theirs and ours out


def test_a_failing_redact_hook_drops_content_and_the_call_goes_on(
    spans: InMemorySpanExporter, client: openai.OpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    def redact(span_name: str, kind: str, value: Any) -> Any:
        raise RuntimeError("hook bug")

    tracepond.configure(store=None, redact=redact)
    tracepond.autolog()
    reply = chat(client)
    assert reply.choices[0].message.content == "Echo: hello"
    attributes = dict(spans.get_finished_spans()[0].attributes or {})
    assert attributes["tracepond.content.dropped"] is True
    assert not CONTENT_KEYS & set(attributes)
    assert attributes["gen_ai.usage.output_tokens"] == 2
    assert "redact hook raised" in caplog.text
