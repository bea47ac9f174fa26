"""No credential reaches the store or leaves over OTLP, whoever recorded it: tracepond's own spans,
another instrumentation's spans on a plain OpenTelemetry provider, and spans written as OTLP
ingest writes them. Token counts stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

import tracepond
from tests.interop.receivers import HttpReceiver
from tracepond.config import build_settings
from tracepond.exporters.duckdb import DuckDBSpanProcessor, write_spans
from tracepond.exporters.otlp import build_span_processor
from tracepond.store.query import sql

SECRETS = [
    "hunter2-db-pass",
    "wJalrXUtnFEMI-K7MDENG-bPxRfiCY",
    "Bearer-abcdefghij-cookie-value",
    "sk-proj-abcdefghijklmnopqrstuvwx",
    "tok-9f8e7d6c5b4a",
    "auth-value-1234",
    "pass-value-5678",
    "sig-value-abcd",
    "k-api-key-0001",
]
# What other instrumentations record (HTTP clients, database clients, loggers).
FOREIGN_ATTRIBUTES = {
    "http.request.header.authorization": ("Basic Bearer-abcdefghij-cookie-value",),
    "http.request.header.cookie": ("session=Bearer-abcdefghij-cookie-value",),
    "http.response.header.set-cookie": ("id=Bearer-abcdefghij-cookie-value",),
    "http.request.header.x-api-key": ("k-api-key-0001",),
    "db.connection_string": "postgres://app:hunter2-db-pass@db:5432/app",
    "url.full": "https://svc:hunter2-db-pass@internal.example/v1",
    "log.message": "boot: aws_secret_access_key=wJalrXUtnFEMI-K7MDENG-bPxRfiCY region=eu",
    "auth": "auth-value-1234",
    "pass": "pass-value-5678",
    "sig": "sig-value-abcd",
    "token": "tok-9f8e7d6c5b4a",
    "openai.key": "sk-proj-abcdefghijklmnopqrstuvwx",
    "gen_ai.request.max_tokens": 256,
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 7,
}


def foreign_spans() -> list[object]:
    """Spans another instrumentation made with a plain OTel SDK provider."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("other.instrumentation").start_as_current_span("GET /") as span:
        span.set_attributes(FOREIGN_ATTRIBUTES)
        span.add_event("log", {"message": "password=hunter2-db-pass", "token": "tok-9f8e7d6c5b4a"})
        span.set_status(
            Status(StatusCode.ERROR, "login failed for postgres://app:hunter2-db-pass@db")
        )
    return list(exporter.get_finished_spans())


def everything_stored(store: str) -> str:
    tables = ("spans", "span_events", "traces")
    return json.dumps(
        [sql(f"SELECT * FROM {t}", store=store).fetchall() for t in tables], default=str
    )


def assert_counts_kept(attributes: dict[str, object]) -> None:
    assert attributes["gen_ai.request.max_tokens"] == 256
    assert attributes["gen_ai.usage.input_tokens"] == 12


def test_ingested_spans_are_scrubbed_before_the_store(tmp_path: Path) -> None:
    store = str(tmp_path / "ingest.duckdb")
    assert write_spans(store, foreign_spans()) == 1  # the path OTLP ingest and import take
    stored = everything_stored(store)
    for secret in SECRETS:
        assert secret not in stored, secret
    ((attributes, message),) = sql(
        "SELECT attributes, status_message FROM spans", store=store
    ).fetchall()
    attributes = json.loads(attributes)
    assert attributes["http.request.header.authorization"] == "[REDACTED]"
    assert attributes["db.connection_string"] == "postgres://app:[REDACTED]@db:5432/app"
    assert attributes["log.message"] == "boot: aws_secret_access_key=[REDACTED] region=eu"
    assert message == "login failed for postgres://app:[REDACTED]@db"
    assert_counts_kept(attributes)
    assert sql("SELECT input_tokens, output_tokens FROM spans", store=store).fetchall() == [(12, 7)]


def test_another_instrumentations_provider_writing_to_the_store(tmp_path: Path) -> None:
    store = str(tmp_path / "foreign.duckdb")
    processor = DuckDBSpanProcessor(store)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    with provider.get_tracer("requests").start_as_current_span("GET") as span:
        span.set_attributes(FOREIGN_ATTRIBUTES)
    assert processor.force_flush(30_000)
    stored = everything_stored(store)
    for secret in SECRETS:
        assert secret not in stored, secret
    assert "[REDACTED]" in stored
    provider.shutdown()


def test_nothing_secret_leaves_over_otlp_with_content_export_on_or_off() -> None:
    for export_content in (False, True):
        with HttpReceiver() as receiver:
            settings = build_settings(
                environ={},
                store=None,
                otlp_endpoint=receiver.base_url,
                export_content=export_content,
            )
            processor = build_span_processor(settings)
            assert processor is not None
            for span in foreign_spans():
                processor.on_end(span)  # type: ignore[arg-type]
            assert processor.force_flush(10_000) and receiver.wait_for_spans(1)
            (sent,) = receiver.spans
            text = json.dumps([sent.attributes, sent.events], default=str)
            for secret in SECRETS:
                assert secret not in text, (export_content, secret)
            assert sent.attributes["url.full"] == "https://svc:[REDACTED]@internal.example/v1"
            assert_counts_kept(sent.attributes)
            processor.shutdown()


@tracepond.trace
def login(user: str, token: str, auth: str, max_tokens: int) -> str:
    return f"{user} in"


def test_a_traced_functions_token_argument_is_redacted(configured: object) -> None:
    assert login("ada", token="tok-9f8e7d6c5b4a", auth="auth-value-1234", max_tokens=5) == "ada in"
    assert tracepond.flush(timeout_s=30)
    ((inputs,),) = tracepond.sql("SELECT inputs FROM spans WHERE name = 'login'").fetchall()
    assert json.loads(inputs) == {
        "user": "ada",
        "token": "[REDACTED]",
        "auth": "[REDACTED]",
        "max_tokens": 5,
    }


@pytest.mark.parametrize("key", ["max_tokens", "input_tokens", "output_tokens", "total_tokens"])
def test_token_counts_are_not_credentials(key: str) -> None:
    from tracepond.conventions.secrets import is_secret_key, redacted_attributes

    assert not is_secret_key(key) and not is_secret_key(f"gen_ai.usage.{key}")
    attributes = {key: 3}
    assert redacted_attributes(attributes) is attributes  # nothing to scrub: nothing copied
