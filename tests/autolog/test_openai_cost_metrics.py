"""Cost per span (and per trace in the store) and the GenAI client metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tracepond.autolog import metrics, pricing
from tracepond.errors import ConfigError
from tracepond.testing import FakeOpenAIServer

ASK = [{"role": "user", "content": "one two three"}]  # 3 input tokens; the echo is 4 tokens


@pytest.fixture(autouse=True)
def no_user_prices() -> Iterator[None]:
    pricing.clear_user_prices()
    yield
    pricing.clear_user_prices()


def chat_cost(
    traced: InMemorySpanExporter,
    client: openai.OpenAI,
    server: FakeOpenAIServer,
    model: str,
    **reply: Any,
) -> dict[str, Any]:
    server.reply_next("a b c d", model=model, **reply)
    client.chat.completions.create(model="whatever-was-asked", messages=ASK)
    return dict(traced.get_finished_spans()[-1].attributes or {})


def test_known_model_snapshot_is_priced_as_its_base_model(
    traced: InMemorySpanExporter, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    attributes = chat_cost(traced, client, server, "gpt-4o-mini-2024-07-18", cached_tokens=2)
    # gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per 1M tokens
    expected = (1 * 0.15 + 2 * 0.075 + 4 * 0.60) / 1_000_000
    assert attributes["tracepond.cost.usd"] == pytest.approx(expected)
    assert attributes["tracepond.cost.source"] == "builtin:openai@2025-08-07"
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 2


def test_snapshot_with_its_own_price_is_not_priced_as_the_alias(
    traced: InMemorySpanExporter, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    attributes = chat_cost(traced, client, server, "gpt-4o-2024-05-13")
    assert attributes["tracepond.cost.usd"] == pytest.approx((3 * 5.0 + 4 * 15.0) / 1_000_000)


@pytest.mark.parametrize(
    "model",
    ["my-local-llama", "ft:gpt-4o-mini-2024-07-18:acme::abc123", "gpt-4o-mini-audio-preview"],
)
def test_unknown_model_gets_no_cost(
    model: str, traced: InMemorySpanExporter, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    attributes = chat_cost(traced, client, server, model)
    assert "tracepond.cost.usd" not in attributes
    assert attributes["gen_ai.usage.input_tokens"] == 3  # usage is still recorded


def test_user_prices_win(
    traced: InMemorySpanExporter, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    tracepond.autolog(prices={"my-local-llama": {"input": 1.0, "output": 2.0}})
    pricing.set_price("gpt-4o-mini", input=10.0, output=20.0, provider="openai")
    local = chat_cost(traced, client, server, "my-local-llama")
    assert local["tracepond.cost.usd"] == pytest.approx((3 * 1.0 + 4 * 2.0) / 1_000_000)
    assert local["tracepond.cost.source"] == "user"
    overridden = chat_cost(traced, client, server, "gpt-4o-mini")
    assert overridden["tracepond.cost.usd"] == pytest.approx((3 * 10.0 + 4 * 20.0) / 1_000_000)


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"m": {"input": "1", "output": 1}}, "'input' of 'm' must be a finite number"),
        ({"m": {"input": 1}}, "needs both 'input' and 'output'"),
        ({"m": {"input": 1, "output": 1, "cache": 1}}, "unknown keys"),
        ({"m": {"input": 1, "output": float("nan")}}, "'output' of 'm'"),
        ({"": {"input": 1, "output": 1}}, "non-empty string"),
        (["m"], "must be a mapping"),
    ],
)
def test_bad_prices_are_refused_and_change_nothing(prices: Any, message: str) -> None:
    pricing.set_prices({"kept": {"input": 1.0, "output": 1.0}})
    with pytest.raises(ConfigError, match=message):
        pricing.set_prices(
            {"good": {"input": 1, "output": 1}, **prices} if isinstance(prices, dict) else prices
        )
    assert pricing.price_for("openai", "good") is None  # all or nothing
    assert pricing.price_for("openai", "kept") == (pricing.Price(1.0, 1.0), "user")


def test_price_lookup_rules() -> None:
    assert pricing.price_for("openai", "gpt-4o-mini-2024-07-18") == pricing.price_for(
        "openai", "gpt-4o-mini"
    )
    assert pricing.price_for("openai", "gpt-4o-mini-2024-07-18") != pricing.price_for(
        "openai", "gpt-4o"
    )
    assert (
        pricing.price_for("openai", "gpt-3.5-turbo-0613") is None
    )  # legacy 4-digit snapshots: listed or nothing
    assert pricing.price_for("azure.ai.openai", "gpt-4o-mini") is None
    assert pricing.price_for("openai", None) is None
    embedding = pricing.cost_for("openai", "text-embedding-3-small", pricing.Usage(1_000_000, 0))
    assert embedding == (pytest.approx(0.02), "builtin:openai@2025-08-07")


def test_price_table_says_where_and_when() -> None:
    table = json.loads(
        resources.files("tracepond.autolog").joinpath("pricing").joinpath("openai.json").read_text()
    )
    assert table["source"].startswith("https://openai.com/api/pricing")
    assert table["date"] == "2025-08-07"
    for model, price in table["models"].items():
        assert set(price) <= {"input", "cached_input", "output"}, model
        assert price["input"] >= 0 and price["output"] >= 0


def test_cost_is_stored_per_span_and_summed_per_trace(
    configured: Any, store_path: Path, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    tracepond.autolog()
    with tracepond.start_span("two calls", span_type="CHAIN"):
        server.reply_next("a b c d", model="gpt-4o-mini")
        client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        server.reply_next("a b c d", model="my-local-llama")
        client.chat.completions.create(model="my-local-llama", messages=ASK)
    assert tracepond.flush()
    rows = tracepond.sql(
        "SELECT model, cost_usd FROM spans WHERE provider = 'openai' ORDER BY model",
        store=str(store_path),
    ).fetchall()
    one = (3 * 0.15 + 4 * 0.60) / 1_000_000
    assert rows[0][0] == "gpt-4o-mini" and rows[0][1] == pytest.approx(one)
    assert rows[1] == ("my-local-llama", None)  # unknown: NULL, never a guess
    ((total,),) = tracepond.sql("SELECT cost_usd FROM traces", store=str(store_path)).fetchall()
    assert total == pytest.approx(one)


# --- metrics -----------------------------------------------------------------------------------


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    memory = InMemoryMetricReader()
    metrics.add_metric_reader(memory)
    yield memory
    metrics.remove_metric_reader(memory)


def histograms(reader: InMemoryMetricReader) -> dict[str, list[HistogramDataPoint]]:
    data = reader.get_metrics_data()
    found: dict[str, list[HistogramDataPoint]] = {}
    for resource_metrics in data.resource_metrics if data else ():
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)  # type: ignore[arg-type]
    return found


def test_metrics_histograms_with_convention_buckets(
    spans: InMemorySpanExporter,
    reader: InMemoryMetricReader,
    client: openai.OpenAI,
    server: FakeOpenAIServer,
) -> None:
    tracepond.autolog(metrics=True, stream_usage=True)
    client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=ASK, stream=True))
    server.fail_next(503)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    found = histograms(reader)

    durations = found["gen_ai.client.operation.duration"]
    assert list(durations[0].explicit_bounds) == list(metrics.DURATION_BUCKETS)
    ok = [p for p in durations if "error.type" not in p.attributes]
    failed = [p for p in durations if p.attributes.get("error.type") == "InternalServerError"]
    assert sum(p.count for p in ok) == 2 and sum(p.count for p in failed) == 1
    assert ok[0].attributes["gen_ai.operation.name"] == "chat"
    assert ok[0].attributes["gen_ai.provider.name"] == "openai"
    assert ok[0].attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert ok[0].attributes["server.address"] == "127.0.0.1"

    tokens = found["gen_ai.client.token.usage"]
    assert list(tokens[0].explicit_bounds) == list(metrics.TOKEN_USAGE_BUCKETS)
    by_type = {p.attributes["gen_ai.token.type"]: p for p in tokens}
    assert by_type["input"].count == 2 and by_type["input"].sum == 6
    assert (
        by_type["output"].count == 2 and by_type["output"].sum == 8
    )  # "Echo: one two three", twice


def test_metrics_are_off_unless_enabled(
    spans: InMemorySpanExporter, reader: InMemoryMetricReader, client: openai.OpenAI
) -> None:
    tracepond.autolog()
    client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert histograms(reader) == {}


def test_metrics_follow_configure(
    spans: InMemorySpanExporter, reader: InMemoryMetricReader, client: openai.OpenAI
) -> None:
    tracepond.autolog()
    tracepond.configure(store=None, metrics=True)  # after autolog: read on every call
    client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert set(histograms(reader)) == {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
    }


def test_an_answered_model_the_table_does_not_know_is_priced_as_the_requested_one(
    traced: InMemorySpanExporter, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    server.reply_next("a b c d", model="gpt-4o-mini-custom-deployment-7")
    client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    attributes = dict(traced.get_finished_spans()[-1].attributes or {})
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini-custom-deployment-7"
    assert attributes["tracepond.cost.usd"] == pytest.approx((3 * 0.15 + 4 * 0.60) / 1_000_000)
