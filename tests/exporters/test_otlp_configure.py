"""OTLP through the public API: configure(), the standard variables, start_span, flush."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import tracepond
from tests.interop.receivers import GrpcReceiver, HttpReceiver, free_port
from tracepond.cli import main
from tracepond.conventions import attributes as attr
from tracepond.exporters.otlp import OtlpSpanProcessor, otlp_export_stats
from tracepond.tracing import provider


@pytest.fixture(params=["http/protobuf", "grpc"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def receiver(protocol: str) -> Iterator[HttpReceiver | GrpcReceiver]:
    with (HttpReceiver if protocol == "http/protobuf" else GrpcReceiver)() as running:
        yield running


def otlp_processors() -> list[OtlpSpanProcessor]:
    return [p for p in provider.span_processors() if isinstance(p, OtlpSpanProcessor)]


def traced_work() -> tuple[str, str]:
    with tracepond.start_span("answer", span_type="CHAIN", inputs={"q": "hi"}) as root:
        tracepond.update_current_trace(tags={"env": "test"}, session_id="s1")
        with tracepond.start_span("retrieve", span_type="RETRIEVER") as child:
            child.set_attribute("k", 3)
            child.set_outputs(["doc"])
    return root.trace_id, child.span_id


def test_store_none_sends_only_over_otlp(
    receiver: HttpReceiver | GrpcReceiver,
    protocol: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    tracepond.configure(
        store=None, otlp_endpoint=receiver.base_url, otlp_protocol=protocol, service_name="checkout"
    )
    trace_id, child_id = traced_work()
    assert tracepond.flush(20)
    assert receiver.wait_for_spans(2)
    by_name = {span.name: span for span in receiver.spans}
    assert {span.trace_id for span in receiver.spans} == {trace_id}
    retrieve = by_name["retrieve"]
    assert retrieve.span_id == child_id
    assert retrieve.parent_span_id == by_name["answer"].span_id
    assert retrieve.attributes[attr.SPAN_TYPE] == "RETRIEVER" and retrieve.attributes["k"] == 3
    assert retrieve.resource["service.name"] == "checkout"
    # inputs/outputs are content: not exported without the opt-in
    assert attr.INPUTS not in by_name["answer"].attributes
    assert attr.OUTPUTS not in retrieve.attributes
    assert json.loads(by_name["answer"].attributes[attr.TAGS]) == {"env": "test"}
    assert list(tmp_path.iterdir()) == []  # no store file was made


def test_standard_variables_configure_export(
    receiver: HttpReceiver | GrpcReceiver, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPOND_STORE", "none")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=abc%20def")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,team=ml")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    traced_work()
    assert tracepond.flush(20) and receiver.wait_for_spans(2)
    span = receiver.spans[0]
    assert span.resource["service.name"] == "from-env"
    assert span.resource["deployment.environment"] == "staging" and span.resource["team"] == "ml"
    assert receiver.headers[0]["x-api-key"] == "abc def"
    answer = next(s for s in receiver.spans if s.name == "answer")
    assert json.loads(answer.attributes[attr.INPUTS]) == {"q": "hi"}  # opted in: content goes


def test_reconfigure_replaces_the_exporter_and_keeps_counts(
    receiver: HttpReceiver | GrpcReceiver, protocol: str
) -> None:
    tracepond.configure(store=None, otlp_endpoint=receiver.base_url, otlp_protocol=protocol)
    traced_work()
    (first,) = otlp_processors()
    before = otlp_export_stats().exported
    with HttpReceiver() as second:
        tracepond.configure(otlp_endpoint=second.base_url, otlp_protocol="http/protobuf")
        assert receiver.wait_for_spans(2)  # the old processor flushed what it held
        traced_work()
        assert tracepond.flush(20) and second.wait_for_spans(2)
        assert otlp_processors() != [first]
        assert otlp_export_stats().exported >= before + 4
        tracepond.configure(otlp_endpoint=None)
        assert otlp_processors() == []


def test_store_and_endpoint_send_to_both(
    receiver: HttpReceiver | GrpcReceiver, protocol: str, tmp_path: Path
) -> None:
    store = str(tmp_path / "dual.duckdb")
    tracepond.configure(store=store, otlp_endpoint=receiver.base_url, otlp_protocol=protocol)
    trace_id, child_id = traced_work()
    assert tracepond.flush(20) and receiver.wait_for_spans(2)
    stored = tracepond.get_trace(trace_id, store=store)
    assert stored is not None
    assert {span.span_id for span in stored.spans} == receiver.span_ids()
    assert child_id in receiver.span_ids()
    # the local store keeps the content that OTLP did not send
    assert stored.spans[0].inputs == {"q": "hi"}


def test_otlp_drops_reach_the_store_for_doctor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    store = str(tmp_path / "drops.duckdb")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: the collector is down
    tracepond.configure(store=store, otlp_endpoint=dead, queue_size=20, batch_size=10)
    for _ in range(30):
        traced_work()
    (otlp,) = otlp_processors()
    assert tracepond.flush(20) is False  # the store got its spans; OTLP could not send
    provider.shutdown()  # what exit does: the rest is counted and recorded
    dropped = sum(otlp.stats.drops().values())
    assert dropped == 60  # nothing could be sent, every span is accounted for
    from tracepond.store.query import dropped_span_counts

    assert dropped_span_counts(store=store)["otlp"] == dropped
    result = CliRunner().invoke(main, ["doctor", "--store", store])
    assert result.exit_code == 0, result.output
    assert f"otlp: {dropped}" in result.output


def test_genai_metrics_go_over_otlp_when_metrics_are_on(
    receiver: HttpReceiver | GrpcReceiver, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    openai = pytest.importorskip("openai")
    from tracepond.testing import FakeOpenAIServer

    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")  # milliseconds
    tracepond.configure(
        store=None, otlp_endpoint=receiver.base_url, otlp_protocol=protocol, metrics=True
    )
    tracepond.autolog(providers=["openai"])
    try:
        with (
            FakeOpenAIServer() as server,
            openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0) as client,
        ):
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        tracepond.autolog(disable=True)
    assert receiver.wait_for_metrics()
    points: dict[str, list[object]] = {}
    for request in receiver.metric_requests:
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points.setdefault(metric.name, []).extend(metric.histogram.data_points)
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= set(points)
    token_sums = {
        next(kv.value.string_value for kv in p.attributes if kv.key == "gen_ai.token.type"): p.sum
        for p in points["gen_ai.client.token.usage"]
    }
    assert token_sums["input"] == reply.usage.prompt_tokens
    assert token_sums["output"] == reply.usage.completion_tokens
    assert tracepond.flush(20) and receiver.wait_for_spans(1)  # the span went too


def test_no_metrics_are_sent_while_metrics_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    openai = pytest.importorskip("openai")
    from tracepond.testing import FakeOpenAIServer

    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "100")
    with HttpReceiver() as receiver:
        tracepond.configure(store=None, otlp_endpoint=receiver.base_url, metrics=False)
        tracepond.autolog(providers=["openai"])
        try:
            with (
                FakeOpenAIServer() as server,
                openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0) as client,
            ):
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                )
        finally:
            tracepond.autolog(disable=True)
        assert tracepond.flush(20) and receiver.wait_for_spans(1)
        provider.shutdown()  # the metric reader's last collection happens here
        assert receiver.metric_requests == []
