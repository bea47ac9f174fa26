"""Observability per model and version: model_stats() and the model_stats SQL views agree.

The model calls the real openai client against the stand-in server with autolog on, so its
traces carry real token counts and the price table's cost.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tracepond
from tests.tracking.conftest import rows
from tracepond.testing import FakeOpenAIServer

API_KEY = "sk-test-" + "M0d3lSt4ts" * 4


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def autologged(store: str) -> Iterator[None]:
    tracepond.autolog(providers=["openai"])
    yield
    tracepond.autolog(disable=True)


def make_bot(base_url: str):  # type: ignore[no-untyped-def]
    def support_bot(question: str) -> str:
        import openai

        if not question:
            raise ValueError("empty question")
        with openai.OpenAI(api_key=API_KEY, base_url=base_url, max_retries=0) as client:
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
            )
        return reply.choices[0].message.content or ""

    return support_bot


def test_stats_per_model_and_version(
    store: str, server: FakeOpenAIServer, autologged: None
) -> None:
    info = tracepond.log_model(make_bot(server.base_url), name="support-bot")
    version = tracepond.register_model(info.model_id, "support")
    model = tracepond.load_model("models:/support/1")
    for question in ("how do I reset my password", "where is my order", "hello there friend"):
        assert model.predict(question)
    with pytest.raises(ValueError, match="empty question"):
        model.predict("")
    tracepond.flush()

    (logged,) = tracepond.model_stats("support-bot")
    assert (logged.model_id, logged.version, logged.trace_count) == (info.model_id, None, 4)
    assert logged.error_rate == pytest.approx(0.25)
    assert logged.p50_latency_ms is not None and logged.p95_latency_ms is not None
    assert 0 < logged.p50_latency_ms <= logged.p95_latency_ms
    spans_tokens = rows(
        store,
        "SELECT sum(input_tokens), sum(output_tokens), sum(cost_usd) FROM spans WHERE model_id = ?",
        [info.model_id],
    )[0]
    assert (logged.input_tokens, logged.output_tokens) == (spans_tokens[0], spans_tokens[1])
    assert logged.input_tokens > 0 and logged.output_tokens > 0
    assert logged.cost_usd > 0 and logged.cost_usd == pytest.approx(spans_tokens[2])

    (registered,) = tracepond.model_stats("support")
    assert (registered.name, registered.version) == ("support", version.version)
    assert registered.trace_count == 4 and registered.error_rate == pytest.approx(0.25)

    sql_row = tracepond.sql(
        "SELECT trace_count, error_rate, input_tokens, output_tokens, p50_latency_ms "
        "FROM model_version_stats WHERE name = 'support' AND version = 1",
        store=store,
    ).fetchall()
    assert sql_row == [
        (
            4,
            registered.error_rate,
            registered.input_tokens,
            registered.output_tokens,
            registered.p50_latency_ms,
        )
    ]


def test_a_model_without_traces_has_zero_stats(store: str) -> None:
    made = tracepond.set_active_model(name="idle")
    (stats,) = tracepond.model_stats("idle")
    assert (stats.model_id, stats.trace_count, stats.error_rate) == (made.model_id, 0, 0.0)
    assert (stats.p50_latency_ms, stats.input_tokens, stats.cost_usd) == (None, 0, 0.0)
    assert [s.name for s in tracepond.model_stats()] == ["idle"]
    assert tracepond.model_stats("nothing-by-that-name") == []


def test_set_active_model_traces_count_for_the_model(store: str) -> None:
    made = tracepond.set_active_model(name="app", params={"prompt": "v3"})

    @tracepond.trace
    def handle(ok: bool) -> str:
        if not ok:
            raise RuntimeError("bad")
        return "fine"

    handle(True)
    handle(True)
    with pytest.raises(RuntimeError):
        handle(False)
    tracepond.flush()
    (stats,) = tracepond.model_stats("app")
    assert (stats.model_id, stats.trace_count) == (made.model_id, 3)
    assert stats.error_rate == pytest.approx(1 / 3)
