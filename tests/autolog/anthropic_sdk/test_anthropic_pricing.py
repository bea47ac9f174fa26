"""Anthropic's price table and user prices with a cache-write rate; bad prices refused with
nothing changed; inputs the instrumentation must leave to the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tests.autolog.anthropic_sdk.helpers import ASK, MODEL, attributes_of, content, sync_client
from tracepond.autolog import patched, pricing
from tracepond.errors import ConfigError
from tracepond.testing import FakeAnthropicServer

CACHED_SYSTEM = [
    {"type": "text", "text": "one two three four", "cache_control": {"type": "ephemeral"}}
]


@pytest.fixture(autouse=True)
def no_user_prices() -> Iterator[None]:
    pricing.clear_user_prices()
    yield
    pricing.clear_user_prices()


def test_the_builtin_table_is_dated_and_prices_cache_reads_and_writes() -> None:
    path = resources.files("tracepond.autolog").joinpath("pricing").joinpath("anthropic.json")
    table = json.loads(path.read_text(encoding="utf-8"))
    assert table["provider"] == "anthropic" and table["date"] and table["source"]
    for model, entry in table["models"].items():
        # every model has both cache rates: a hit costs less than input, a write more
        assert 0 < entry["cached_input"] < entry["input"] < entry["cache_write_input"], model
        assert entry["output"] > entry["input"], model
    found = pricing.price_for("anthropic", "claude-sonnet-4-5")
    assert found is not None and found[1] == f"builtin:anthropic@{table['date']}"
    assert pricing.price_for("anthropic", "claude-sonnet-5") is None  # unknown: no cost at all


def test_a_user_price_with_a_cache_write_rate_prices_the_cache_write(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    tracepond.autolog(
        providers=["anthropic"],
        prices={
            MODEL: {"input": 1.0, "output": 2.0, "cached_input": 0.5, "cache_write_input": 10.0}
        },
    )
    with sync_client(anthropic_server) as client:
        for _ in range(2):  # writes the cache, then reads it
            client.messages.create(model=MODEL, max_tokens=8, messages=ASK, system=CACHED_SYSTEM)
    write, read = (dict(span.attributes or {}) for span in traced.get_finished_spans())
    # 4 cached words, 3 more input ("Name a color"), 4 output ("Echo: Name a color")
    assert write["tracepond.cost.usd"] == pytest.approx((3 * 1.0 + 4 * 10.0 + 4 * 2.0) / 1e6)
    assert read["tracepond.cost.usd"] == pytest.approx((3 * 1.0 + 4 * 0.5 + 4 * 2.0) / 1e6)
    assert write["tracepond.cost.source"] == "user"


@pytest.mark.parametrize("bad", [-1.0, "3.75", float("nan"), True])
def test_a_bad_cache_write_rate_is_refused_naming_it_and_changes_nothing(bad: object) -> None:
    pricing.set_prices({"kept-model": {"input": 1.0, "output": 2.0}})
    before = pricing.price_for("anthropic", "kept-model")
    builtin = pricing.price_for("anthropic", MODEL)
    with pytest.raises(ConfigError, match="'cache_write_input'"):
        tracepond.autolog(
            providers=["anthropic"],
            prices={
                "other": {"input": 1.0, "output": 1.0},
                MODEL: {"input": 1.0, "output": 2.0, "cache_write_input": bad},
            },
        )
    assert pricing.price_for("anthropic", "kept-model") == before
    assert pricing.price_for("anthropic", "other") is None  # all or nothing
    assert "anthropic" not in patched()
    with pytest.raises(ConfigError, match="'cache_write_input'"):
        pricing.set_price(MODEL, input=1.0, output=2.0, cache_write_input=bad)  # type: ignore[arg-type]
    assert pricing.price_for("anthropic", MODEL) == builtin  # still the table's own price


def test_messages_and_tools_given_as_generators_are_left_to_the_sdk(
    traced: InMemorySpanExporter, anthropic_server: FakeAnthropicServer
) -> None:
    with sync_client(anthropic_server) as client:
        reply = client.messages.create(
            model=MODEL, max_tokens=8, messages=(m for m in ASK), system=CACHED_SYSTEM
        )
    assert reply.content[0].text == "Echo: Name a color"  # type: ignore[union-attr]
    assert anthropic_server.requests[-1].json()["messages"] == ASK  # the SDK still got them all
    a = attributes_of(traced)
    assert content(a, "gen_ai.input.messages") == []  # never consumed by tracepond
    assert content(a, "gen_ai.system_instructions")[0]["content"] == "one two three four"
