"""Cost of Bedrock and Groq calls from the built-in tables: cross-region profiles priced as their
base model, cache reads and writes at their own rates, unknown models never priced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import groq
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tracepond.testing.bedrock import FakeBedrockServer
from tracepond.testing.groq import FakeGroqServer

USER = [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}]
TABLES = Path(tracepond.__file__).parent / "autolog" / "pricing"


@pytest.fixture
def bedrock_server() -> Iterator[FakeBedrockServer]:
    with FakeBedrockServer() as fake:
        yield fake


@pytest.fixture
def bedrock(bedrock_server: FakeBedrockServer, spans: InMemorySpanExporter) -> Iterator[Any]:
    tracepond.autolog(providers=["bedrock"])
    client = boto3.client("bedrock-runtime", **bedrock_server.client_kwargs())
    yield client
    client.close()
    tracepond.autolog(disable=True)


def last_attributes(spans: InMemorySpanExporter) -> dict[str, Any]:
    return dict(spans.get_finished_spans()[-1].attributes or {})


@pytest.mark.parametrize("table", ["bedrock.json", "groq.json"])
def test_tables_name_their_source_and_date(table: str) -> None:
    data = json.loads((TABLES / table).read_text())
    assert data["source"].startswith("https://")
    assert len(data["date"]) == 10
    for model, price in data["models"].items():
        assert price["input"] >= 0 and price["output"] >= 0, model


@pytest.mark.parametrize("prefix", ["", "us.", "eu.", "apac.", "global."])
def test_cross_region_profile_priced_as_base_model(
    bedrock: Any, spans: InMemorySpanExporter, prefix: str
) -> None:
    bedrock.converse(modelId=prefix + "anthropic.claude-3-haiku-20240307-v1:0", messages=USER)
    a = last_attributes(spans)
    # 6 input tokens at $0.25/M + 6 output tokens at $1.25/M
    assert a["tracepond.cost.usd"] == pytest.approx((6 * 0.25 + 6 * 1.25) / 1e6)
    assert a["tracepond.cost.source"].startswith("builtin:bedrock@")


def test_cache_write_then_read_at_their_rates(bedrock: Any, spans: InMemorySpanExporter) -> None:
    system = [
        {"text": "You are a meticulous assistant for weather"},
        {"cachePoint": {"type": "default"}},
    ]
    model = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    bedrock.converse(modelId=model, messages=USER, system=system)
    write = last_attributes(spans)
    bedrock.converse(modelId=model, messages=USER, system=system)
    read = last_attributes(spans)
    # 13 prompt tokens of which 7 cached; 6 output. Haiku 3.5: in 0.8, write 1.0, read 0.08, out 4.
    assert write["tracepond.cost.usd"] == pytest.approx((6 * 0.8 + 7 * 1.0 + 6 * 4.0) / 1e6)
    assert read["tracepond.cost.usd"] == pytest.approx((6 * 0.8 + 7 * 0.08 + 6 * 4.0) / 1e6)
    assert write["gen_ai.usage.cache_creation.input_tokens"] == 7


def test_unknown_models_get_no_cost(bedrock: Any, spans: InMemorySpanExporter) -> None:
    for model_id in (
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
        "us.someone.new-model-v9:0",
        "xx.anthropic.claude-3-haiku-20240307-v1:0",  # not a known region prefix
    ):
        bedrock.converse(modelId=model_id, messages=USER)
        a = last_attributes(spans)
        assert "tracepond.cost.usd" not in a, model_id
        assert a["gen_ai.usage.output_tokens"] == 6


def test_user_price_overrides_the_table(bedrock: Any, spans: InMemorySpanExporter) -> None:
    tracepond.autolog(
        prices={"amazon.nova-lite-v1:0": {"input": 1.0, "output": 2.0, "provider": "aws.bedrock"}}
    )
    try:
        bedrock.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
    finally:
        from tracepond.autolog import pricing

        pricing.clear_user_prices()
    a = last_attributes(spans)
    assert a["tracepond.cost.usd"] == pytest.approx((6 * 1.0 + 6 * 2.0) / 1e6)
    assert a["tracepond.cost.source"] == "user"


def test_groq_chat_cost(spans: InMemorySpanExporter) -> None:
    tracepond.autolog(providers=["groq"])
    with (
        FakeGroqServer() as server,
        groq.Groq(api_key="gsk_x", base_url=server.base_url, max_retries=0) as client,
    ):
        list(
            client.chat.completions.create(
                model="llama-3.3-70b-versatile",
                messages=[{"role": "user", "content": "a b c"}],
                stream=True,
            )
        )
    a = last_attributes(spans)
    # 3 input tokens at $0.59/M, 4 output ("Echo: a b c") at $0.79/M, usage from x_groq
    assert a["tracepond.cost.usd"] == pytest.approx((3 * 0.59 + 4 * 0.79) / 1e6)
    assert a["tracepond.cost.source"].startswith("builtin:groq@")
