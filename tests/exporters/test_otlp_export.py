"""OTLP export to real local receivers: what arrives, and what a collector that is down, slow
or refusing costs the application (nothing but queue slots, every drop counted)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind, Tracer

from tests.interop.receivers import GrpcReceiver, HttpReceiver, free_port
from tracepond.config import build_settings
from tracepond.conventions import attributes as attr
from tracepond.exporters.otlp import (
    ContentFilteringExporter,
    OtlpSpanProcessor,
    build_exporter,
    build_metric_reader,
    build_span_processor,
    otlp_drop_counts,
)
from tracepond.exporters.otlp_queue import AT_SHUTDOWN, EXPORT_FAILED, QUEUE_FULL, REFUSED

RECEIVERS = {"http/protobuf": HttpReceiver, "grpc": GrpcReceiver}


@pytest.fixture(autouse=True)
def quick_exporter_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # The OTel exporters retry with backoff until this timeout; keep a down collector cheap.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2")
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def settings_for(receiver: HttpReceiver | GrpcReceiver, protocol: str, **options: object):
    return build_settings(
        environ={}, store=None, otlp_endpoint=receiver.base_url, otlp_protocol=protocol, **options
    )


def tracer_with(processor: SpanProcessor) -> tuple[Tracer, TracerProvider]:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "otlp-test"}), shutdown_on_exit=False
    )
    provider.add_span_processor(processor)
    return provider.get_tracer("test"), provider


def quick_processor(settings, **overrides: float) -> OtlpSpanProcessor:
    """The processor build_span_processor makes, with a test-sized queue and backoff."""
    exporter = build_exporter(settings)
    assert exporter is not None
    options = {
        "max_queue_size": 50,
        "max_batch_size": 10,
        "schedule_delay_s": 0.05,
        "retry_initial_s": 0.05,
        "retry_max_s": 0.2,
    }
    options.update(overrides)
    return OtlpSpanProcessor(exporter, **options)


def emit(tracer: Tracer, count: int) -> list[str]:
    ids = []
    for i in range(count):
        with tracer.start_as_current_span(f"call {i}") as span:
            ids.append(format(span.get_span_context().span_id, "016x"))
    return ids


@pytest.fixture(params=sorted(RECEIVERS))
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def receiver(protocol: str) -> Iterator[HttpReceiver | GrpcReceiver]:
    with RECEIVERS[protocol]() as running:
        yield running


def test_no_endpoint_builds_nothing() -> None:
    assert build_span_processor(build_settings(environ={}, store=None)) is None


def test_spans_arrive_with_ids_parents_attributes_events_and_headers(
    receiver: HttpReceiver | GrpcReceiver, protocol: str
) -> None:
    settings = settings_for(receiver, protocol, otlp_headers={"x-team-key": "k1"})
    processor = build_span_processor(settings)
    assert processor is not None
    tracer, provider = tracer_with(processor)
    with (
        tracer.start_as_current_span("agent", kind=SpanKind.INTERNAL) as root,
        tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as child,
    ):
        child.set_attribute(attr.GEN_AI_OPERATION_NAME, "chat")
        child.set_attribute(attr.GEN_AI_USAGE_INPUT_TOKENS, 12)
        child.set_attribute(attr.GEN_AI_RESPONSE_FINISH_REASONS, ["stop"])
        child.add_event("retry", {"attempt": 2})
    assert processor.force_flush(10_000)
    assert receiver.wait_for_spans(2)
    by_name = {span.name: span for span in receiver.spans}
    root_id = format(root.get_span_context().span_id, "016x")
    chat = by_name["chat gpt-4o-mini"]
    assert chat.trace_id == format(root.get_span_context().trace_id, "032x")
    assert chat.parent_span_id == root_id and by_name["agent"].parent_span_id is None
    assert chat.attributes[attr.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert chat.attributes[attr.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert chat.events == [("retry", {"attempt": 2})]
    assert chat.resource["service.name"] == "otlp-test"
    assert receiver.headers[0]["x-team-key"] == "k1"
    if protocol == "http/protobuf":
        assert receiver.paths == ["/v1/traces"]  # the signal path is added to the base URL
    provider.shutdown()


def test_traces_endpoint_variable_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    with HttpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{receiver.base_url}/in/traces")
        settings = build_settings(store=None)  # from the environment, as at start-up
        processor = build_span_processor(settings)
        assert processor is not None
        tracer, provider = tracer_with(processor)
        emit(tracer, 1)
        assert processor.force_flush(10_000) and receiver.wait_for_spans(1)
        assert receiver.paths == ["/in/traces"]
        provider.shutdown()


def content_span(tracer: Tracer) -> None:
    with tracer.start_as_current_span("chat m") as span:
        span.set_attribute(attr.GEN_AI_INPUT_MESSAGES, '[{"role":"user","content":"secret plan"}]')
        span.set_attribute(attr.GEN_AI_OUTPUT_MESSAGES, '[{"role":"assistant"}]')
        span.set_attribute(attr.GEN_AI_SYSTEM_INSTRUCTIONS, "be brief")
        span.set_attribute(attr.INPUTS, '{"q": "secret plan"}')
        span.set_attribute(attr.OUTPUTS, '"answer"')
        span.set_attribute(attr.GEN_AI_TOOL_CALL_ARGUMENTS, '{"plan": "secret"}')
        span.set_attribute(attr.GEN_AI_TOOL_CALL_RESULT, "done")
        span.set_attribute(attr.GEN_AI_REQUEST_MODEL, "m")
        span.add_event("gen_ai.choice", {attr.GEN_AI_OUTPUT_MESSAGES: "x", "index": 0})


def test_content_is_stripped_unless_opted_in(
    receiver: HttpReceiver | GrpcReceiver, protocol: str
) -> None:
    processor = build_span_processor(settings_for(receiver, protocol))
    assert processor is not None
    tracer, provider = tracer_with(processor)
    content_span(tracer)
    assert processor.force_flush(10_000) and receiver.wait_for_spans(1)
    (sent,) = receiver.spans
    assert not attr.CONTENT_ATTRIBUTES & set(sent.attributes)
    assert sent.attributes[attr.GEN_AI_REQUEST_MODEL] == "m"  # everything else still goes
    assert sent.events == [("gen_ai.choice", {"index": 0})]
    provider.shutdown()


def test_content_is_exported_when_opted_in(
    receiver: HttpReceiver | GrpcReceiver, protocol: str
) -> None:
    processor = build_span_processor(settings_for(receiver, protocol, export_content=True))
    assert isinstance(processor, OtlpSpanProcessor)
    assert isinstance(processor.exporter, ContentFilteringExporter)  # credentials still go
    tracer, provider = tracer_with(processor)
    content_span(tracer)
    assert processor.force_flush(10_000) and receiver.wait_for_spans(1)
    (sent,) = receiver.spans
    assert set(sent.attributes) >= attr.CONTENT_ATTRIBUTES
    assert "secret plan" in sent.attributes[attr.GEN_AI_INPUT_MESSAGES]
    provider.shutdown()


def test_content_variable_opts_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    settings = build_settings(store=None, otlp_endpoint="http://127.0.0.1:9")
    processor = build_span_processor(settings)
    assert isinstance(processor, OtlpSpanProcessor)
    assert isinstance(processor.exporter, ContentFilteringExporter)  # credentials still go
    processor.shutdown()


NOTICE_SCRIPT = textwrap.dedent(
    """
    import logging, sys
    from opentelemetry.sdk.trace import TracerProvider
    from tracepond.config import build_settings
    from tracepond.exporters.otlp import build_span_processor
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    settings = build_settings(environ={}, store=None, otlp_endpoint=sys.argv[1])
    for _ in range(2):  # two processors, several spans and flushes: still one notice
        processor = build_span_processor(settings)
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(processor)
        for _ in range(3):
            with provider.get_tracer("t").start_as_current_span("chat") as span:
                span.set_attribute("gen_ai.input.messages", "[]")
            assert processor.force_flush(10_000)
        provider.shutdown()
    """
)


def test_user_is_told_once_how_to_export_content() -> None:
    with HttpReceiver() as receiver:
        done = subprocess.run(
            [sys.executable, "-c", NOTICE_SCRIPT, receiver.base_url],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        notices = [line for line in done.stderr.splitlines() if "not sent over OTLP" in line]
        assert len(notices) == 1, done.stderr
        assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true" in notices[0]
        assert "export_content=True" in notices[0]
        assert receiver.wait_for_spans(6)


# --- faults: the application never waits, drops are counted, export resumes ------------------


def test_hanging_collector_never_blocks_traced_calls(
    receiver: HttpReceiver | GrpcReceiver, protocol: str
) -> None:
    receiver.hold()  # every export request hangs until released
    processor = quick_processor(settings_for(receiver, protocol))
    tracer, provider = tracer_with(processor)
    emitted = emit(tracer, 200)
    # All 200 traced calls returned while the collector had answered nothing.
    assert receiver.requests == 0
    assert processor.stats.dropped_queue_full > 0
    assert otlp_drop_counts()[QUEUE_FULL] >= processor.stats.dropped_queue_full
    receiver.release()
    assert processor.force_flush(20_000)
    assert receiver.span_ids() <= set(emitted)
    assert len(receiver.spans) + processor.stats.dropped_queue_full == 200
    assert processor.stats.dropped_export_failed == 0
    provider.shutdown()


def test_collector_down_then_back_resumes_export(protocol: str) -> None:
    port = free_port()
    receiver = RECEIVERS[protocol](port)  # not started: nothing listens on the port
    processor = quick_processor(settings_for(receiver, protocol))
    tracer, provider = tracer_with(processor)
    first = emit(tracer, 120)
    assert not processor.force_flush(50)  # nothing can be sent: flush reports it, never hangs
    assert processor.stats.dropped_queue_full > 0
    with receiver:  # the collector comes back on the same port
        assert receiver.wait_for_spans(120 - processor.stats.dropped_queue_full)
        assert processor.force_flush(20_000)
        later = emit(tracer, 5)
        assert processor.force_flush(20_000)
        assert receiver.span_ids() >= set(later)
        assert len(receiver.spans) + processor.stats.dropped_queue_full == 125
        assert receiver.span_ids() <= set(first) | set(later)
        assert processor.stats.dropped_export_failed == 0
    provider.shutdown()


def test_stopped_collector_mid_stream_loses_only_counted_spans(
    receiver: HttpReceiver | GrpcReceiver, protocol: str
) -> None:
    processor = quick_processor(settings_for(receiver, protocol))
    tracer, provider = tracer_with(processor)
    emit(tracer, 10)
    assert processor.force_flush(20_000) and receiver.wait_for_spans(10)
    receiver.stop()
    emit(tracer, 100)
    receiver.start()
    assert receiver.wait_for_spans(110 - processor.stats.dropped_queue_full)
    assert processor.force_flush(20_000)
    assert len(receiver.spans) + processor.stats.dropped_queue_full == 110
    provider.shutdown()


def test_refusing_collector_is_retried_with_backoff_until_it_accepts(
    receiver: HttpReceiver | GrpcReceiver, protocol: str
) -> None:
    receiver.behaviour.status = 503  # retryable: the exporter and the worker back off
    processor = quick_processor(settings_for(receiver, protocol))
    tracer, provider = tracer_with(processor)
    emitted = emit(tracer, 30)
    assert not processor.force_flush(5_000)
    assert receiver.spans == []
    receiver.behaviour.status = 200
    assert receiver.wait_for_spans(30 - processor.stats.dropped_queue_full)
    assert processor.force_flush(20_000)
    assert len(receiver.spans) + processor.stats.dropped_queue_full == 30
    assert receiver.span_ids() <= set(emitted)
    assert processor.stats.failed_attempts >= 1
    provider.shutdown()


def test_permanently_refused_batches_are_dropped_and_counted() -> None:
    with HttpReceiver() as receiver:
        receiver.behaviour.status = 400  # not retryable
        processor = quick_processor(settings_for(receiver, "http/protobuf"), retry_budget_s=0.3)
        tracer, provider = tracer_with(processor)
        emit(tracer, 20)
        for _ in range(200):
            if processor.stats.dropped_export_failed + processor.stats.dropped_queue_full == 20:
                break
            processor.force_flush(100)
            receiver.wait_for_spans(1, timeout_s=0.05)
        assert processor.stats.dropped_export_failed + processor.stats.dropped_queue_full == 20
        assert otlp_drop_counts()[EXPORT_FAILED] >= processor.stats.dropped_export_failed > 0
        provider.shutdown()


def test_shutdown_with_collector_down_returns_and_counts_the_rest(protocol: str) -> None:
    receiver = RECEIVERS[protocol](free_port())  # never started
    processor = quick_processor(settings_for(receiver, protocol), shutdown_timeout_s=1.0)
    tracer, provider = tracer_with(processor)
    emit(tracer, 40)
    provider.shutdown()  # returns though nothing could be sent
    stats = processor.stats
    assert stats.exported == 0
    assert stats.dropped_queue_full + stats.dropped_at_shutdown == 40
    assert otlp_drop_counts()[AT_SHUTDOWN] >= stats.dropped_at_shutdown
    emit(tracer, 1)  # spans ending after shutdown are counted, not queued
    assert processor.stats.dropped_at_shutdown == stats.dropped_at_shutdown


def test_metrics_go_over_otlp(receiver: HttpReceiver | GrpcReceiver, protocol: str) -> None:
    reader = build_metric_reader(settings_for(receiver, protocol))
    assert reader is not None
    meters = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    histogram = meters.get_meter("test").create_histogram("gen_ai.client.token.usage")
    histogram.record(42, {"gen_ai.token.type": "input"})
    assert reader.force_flush(10_000)
    assert receiver.wait_for_metrics()
    names = {
        metric.name
        for request in receiver.metric_requests
        for resource in request.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert "gen_ai.client.token.usage" in names
    if protocol == "http/protobuf":
        assert "/v1/metrics" in receiver.paths
    meters.shutdown()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_exports_its_own_spans() -> None:
    with HttpReceiver() as receiver:
        processor = quick_processor(settings_for(receiver, "http/protobuf"))
        tracer, provider = tracer_with(processor)
        parent_ids = emit(tracer, 3)
        assert processor.force_flush(20_000) and receiver.wait_for_spans(3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # the child: a fresh worker starts with its first span
            code = 1
            try:
                emit(tracer, 2)
                code = 0 if processor.force_flush(20_000) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert receiver.wait_for_spans(5)
        assert len(receiver.span_ids() - set(parent_ids)) == 2
        provider.shutdown()


def test_slow_collector_gets_everything_in_order_of_batches(
    receiver: HttpReceiver | GrpcReceiver, protocol: str
) -> None:
    receiver.behaviour.delay_s = 0.3  # every request takes 300 ms to answer
    processor = quick_processor(settings_for(receiver, protocol), max_queue_size=500)
    tracer, provider = tracer_with(processor)
    emitted = emit(tracer, 100)
    assert processor.force_flush(30_000)
    assert receiver.wait_for_spans(100)
    assert [span.span_id for span in receiver.spans] == emitted  # queue order, nothing lost
    assert receiver.requests >= 10  # batches of at most 10
    assert processor.stats.drops() == {QUEUE_FULL: 0, EXPORT_FAILED: 0, AT_SHUTDOWN: 0, REFUSED: 0}
    provider.shutdown()


def test_shutdown_with_a_hanging_collector_returns_and_counts(
    receiver: HttpReceiver | GrpcReceiver, protocol: str
) -> None:
    receiver.hold()  # requests are accepted and never answered (until released)
    processor = quick_processor(settings_for(receiver, protocol), shutdown_timeout_s=1.0)
    tracer, provider = tracer_with(processor)
    emit(tracer, 40)
    provider.shutdown()  # returns: the worker is abandoned to its request, the rest counted
    stats = processor.stats
    assert stats.exported + stats.dropped_queue_full + stats.dropped_at_shutdown <= 40
    assert stats.dropped_queue_full + stats.dropped_at_shutdown >= 30  # at most one batch out
    receiver.release()
