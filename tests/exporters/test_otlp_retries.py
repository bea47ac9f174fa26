"""Export retries by the OTLP specification, against real OTLP/HTTP and gRPC receivers on
127.0.0.1 and the OpenTelemetry exporters: a refusal (400, 401, gRPC INVALID_ARGUMENT,
UNAUTHENTICATED, RESOURCE_EXHAUSTED without RetryInfo) is dropped at once, counted, and said
once with the collector's reason; 429, 502, 503, 504 and gRPC UNAVAILABLE are retried, after
what Retry-After or RetryInfo asked rather than tracepond's own backoff."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import time
from collections.abc import Iterator

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.sdk.trace import TracerProvider

import tracepond
from tests.interop.receivers import GrpcReceiver, HttpReceiver
from tracepond.config import build_settings
from tracepond.exporters.otlp import build_exporter
from tracepond.exporters.otlp_queue import REFUSED, OtlpSpanProcessor
from tracepond.exporters.otlp_verdict import VerdictRecorder, parse_retry_after

RECEIVERS = {"http/protobuf": HttpReceiver, "grpc": GrpcReceiver}


@pytest.fixture(autouse=True)
def short_exporter_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # The OTel exporters' own deadline: a Retry-After beyond it comes back to tracepond's queue.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")


def processor_for(
    receiver: HttpReceiver | GrpcReceiver, protocol: str, **retry: float
) -> tuple[OtlpSpanProcessor, TracerProvider]:
    settings = build_settings(store=None, otlp_endpoint=receiver.base_url, otlp_protocol=protocol)
    verdicts = VerdictRecorder()
    exporter = build_exporter(settings, verdicts)
    assert exporter is not None
    processor = OtlpSpanProcessor(
        exporter,
        max_batch_size=10,
        schedule_delay_s=0.05,
        verdicts=verdicts,
        collector=f"the OTLP collector at {receiver.base_url}",
        **retry,
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return processor, provider


def settled(processor: OtlpSpanProcessor, timeout_s: float = 20.0) -> bool:
    """True once the worker has counted its batch as exported (the receiver has it first)."""
    deadline = time.monotonic() + timeout_s
    while processor.stats.exported == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    return processor.stats.exported > 0


def emit(provider: TracerProvider, count: int = 1) -> None:
    tracer = provider.get_tracer("retries")
    for index in range(count):
        with tracer.start_as_current_span(f"span {index}"):
            pass


@pytest.fixture(params=sorted(RECEIVERS))
def receiver(request: pytest.FixtureRequest) -> Iterator[tuple[str, HttpReceiver | GrpcReceiver]]:
    made = RECEIVERS[request.param]()
    with made:
        yield request.param, made


REFUSALS = {
    "http/protobuf": [
        (400, "HTTP 400 Bad Request: spans too old"),
        (401, "HTTP 401 Unauthorized: spans too old"),
    ],
    "grpc": [
        ("INVALID_ARGUMENT", "gRPC INVALID_ARGUMENT"),
        ("UNAUTHENTICATED", "gRPC UNAUTHENTICATED"),
    ],
}


@pytest.mark.parametrize("which", [0, 1])
def test_a_refusal_is_never_retried_and_is_said_once(
    receiver: tuple[str, HttpReceiver | GrpcReceiver],
    which: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    protocol, collector = receiver
    code, reason = REFUSALS[protocol][which]
    if protocol == "grpc":
        collector.behaviour.status, collector.behaviour.grpc_code = 500, str(code)
    else:
        collector.behaviour.status = int(code)
        collector.behaviour.body = Status(code=3, message="spans too old").SerializeToString()
    # Backoff of 60 s: a retry would not happen within this test at all.
    processor, provider = processor_for(collector, protocol, retry_initial_s=60)
    caplog.set_level(logging.WARNING, logger="tracepond.otlp")
    emit(provider, 3)
    assert not processor.force_flush(10_000)  # refused spans were not sent: flush says so
    emit(provider, 2)
    processor.force_flush(10_000)
    assert collector.behaviour.attempts == 2  # one request per batch, no retry of either
    assert processor.stats.drops()[REFUSED] == 5 and processor.stats.exported == 0
    told = [r.getMessage() for r in caplog.records if "refuses spans" in r.getMessage()]
    assert len(told) == 1, told
    assert reason in told[0] and collector.base_url in told[0] and "not retried" in told[0]
    provider.shutdown()


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_http_answers_are_retried_after_retry_after(status: int) -> None:
    with HttpReceiver() as collector:
        collector.behaviour.status = status
        collector.behaviour.failures_left = 3  # beyond the OTel exporter's own retries
        collector.behaviour.headers = {"Retry-After": "2"}  # longer than its 1 s deadline
        # tracepond's own backoff would be 60 s: the span arrives only if Retry-After is used
        processor, provider = processor_for(
            collector, "http/protobuf", retry_initial_s=60, retry_budget_s=120
        )
        emit(provider)
        assert collector.wait_for_spans(1, timeout_s=30)
        assert settled(processor)
        assert processor.stats.drops()[REFUSED] == 0 and processor.stats.exported == 1
        assert collector.behaviour.attempts == 4
        provider.shutdown()


def test_grpc_unavailable_is_retried_and_retry_info_is_honoured() -> None:
    with GrpcReceiver() as collector:
        collector.behaviour.status = 503
        collector.behaviour.grpc_code = "UNAVAILABLE"
        collector.behaviour.failures_left = 2
        collector.behaviour.retry_info_s = 2.0
        processor, provider = processor_for(
            collector, "grpc", retry_initial_s=60, retry_budget_s=120
        )
        emit(provider)
        assert collector.wait_for_spans(1, timeout_s=30)
        assert settled(processor)
        assert processor.stats.exported == 1 and processor.stats.drops()[REFUSED] == 0
        provider.shutdown()


@pytest.mark.parametrize("retry_info", [None, 2.0])
def test_grpc_resource_exhausted_is_retried_only_with_retry_info(
    retry_info: float | None,
) -> None:
    with GrpcReceiver() as collector:
        collector.behaviour.status = 503
        collector.behaviour.grpc_code = "RESOURCE_EXHAUSTED"
        # The OTel exporter may itself retry RESOURCE_EXHAUSTED once within its 1 s deadline
        # (its backoff has jitter), so without RetryInfo the collector keeps refusing.
        collector.behaviour.failures_left = 1 if retry_info is not None else None
        collector.behaviour.retry_info_s = retry_info
        processor, provider = processor_for(
            collector, "grpc", retry_initial_s=60, retry_budget_s=120
        )
        emit(provider)
        if retry_info is None:
            processor.force_flush(10_000)
            assert processor.stats.drops()[REFUSED] == 1
            assert not collector.spans
        else:
            assert collector.wait_for_spans(1, timeout_s=30)
            assert settled(processor)
            assert processor.stats.drops()[REFUSED] == 0
        provider.shutdown()


def test_a_refusing_collector_through_configure_costs_the_app_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with HttpReceiver() as collector:
        collector.behaviour.status = 401
        tracepond.configure(store=None, otlp_endpoint=collector.base_url)
        for _ in range(3):
            with tracepond.start_span("refused"):
                pass
        assert not tracepond.flush(5)
        assert collector.behaviour.attempts >= 1
        told = [r.getMessage() for r in caplog.records if "refuses spans" in r.getMessage()]
        assert len(told) == 1 and "HTTP 401 Unauthorized" in told[0]
        assert "OTEL_EXPORTER_OTLP_HEADERS" in told[0]


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    seconds = parse_retry_after(email.utils.format_datetime(later, usegmt=True))
    assert seconds is not None and 25 <= seconds <= 30
    past = email.utils.format_datetime(dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), True)
    assert parse_retry_after(past) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("-3") is None
