"""Over OTLP each feedback is a gen_ai.evaluation.result event on the evaluated span: sent by the
real OTLP/HTTP log exporter to a receiver on 127.0.0.1 and decoded there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

import tracepond
from tests.interop.receivers import any_value
from tracepond.store import assessments
from tracepond.tracing import provider


class LogsReceiver:
    """OTLP/HTTP protobuf logs at http://127.0.0.1:PORT/v1/logs, decoded into dicts."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = logs_service_pb2.ExportLogsServiceRequest()
                if self.path.endswith("/logs"):  # spans and metrics are answered, not kept
                    request.ParseFromString(body)
                for resource_logs in request.resource_logs:
                    for scope_logs in resource_logs.scope_logs:
                        for record in scope_logs.log_records:
                            receiver.records.append({
                                "path": self.path, "event_name": record.event_name,
                                "trace_id": record.trace_id.hex(), "span_id": record.span_id.hex(),
                                "attributes": {kv.key: any_value(kv.value) for kv in record.attributes},
                            })  # fmt: skip
                receiver.arrived.set()
                payload = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def quick_exporter_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # The OTel exporters retry with backoff until this timeout; keep a down collector cheap.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")


@pytest.fixture
def receiver() -> Iterator[LogsReceiver]:
    found = LogsReceiver()
    yield found
    found.stop()


def _flush_events() -> None:
    for listener in list(assessments._listeners):
        listener.force_flush(10_000)  # type: ignore[attr-defined]


@pytest.mark.parametrize("with_content", [False, True])
def test_feedback_goes_out_as_evaluation_events(
    store: str, receiver: LogsReceiver, with_content: bool
) -> None:
    tracepond.configure(store=store, otlp_endpoint=receiver.url, export_content=with_content)

    @tracepond.trace
    def answer(question: str) -> str:
        return "5 days"

    result = tracepond.evaluate(
        [{"inputs": {"question": "refunds?"}, "expectations": {"expected_response": "5 days"}}],
        predict_fn=answer,
        scorers=[tracepond.scorers.exact_match(), tracepond.scorers.regex(r"\d+ weeks")],
    )
    trace_id = result.rows[0].trace_id
    trace = tracepond.get_trace(trace_id)
    assert trace is not None
    child = trace.spans[-1].span_id
    tracepond.log_feedback(trace_id, "tone", "polite", span_id=child, rationale="kind words")
    _flush_events()

    events = {r["attributes"]["gen_ai.evaluation.name"]: r for r in receiver.records}
    assert set(events) == {"exact_match", "regex", "tone"}  # expectations are not sent
    assert {r["path"] for r in receiver.records} == {"/v1/logs"}
    assert {r["event_name"] for r in receiver.records} == {"gen_ai.evaluation.result"}
    exact = events["exact_match"]
    assert (exact["trace_id"], exact["span_id"]) == (trace_id, trace.info.root_span_id)
    assert exact["attributes"]["gen_ai.evaluation.score.value"] == 1.0
    assert exact["attributes"]["gen_ai.evaluation.score.label"] == "true"
    assert exact["attributes"]["tracepond.run_id"] == result.run_id
    tone = events["tone"]
    assert tone["span_id"] == child
    assert tone["attributes"]["gen_ai.evaluation.score.label"] == "polite"
    assert ("gen_ai.evaluation.explanation" in tone["attributes"]) is with_content
    assert ("gen_ai.evaluation.explanation" in events["regex"]["attributes"]) is with_content


def test_a_collector_that_is_down_delays_nothing(store: str, receiver: LogsReceiver) -> None:
    url = receiver.url
    receiver.stop()  # nothing listens there any more
    tracepond.configure(store=store, otlp_endpoint=url)

    @tracepond.trace
    def answer(question: str) -> str:
        return "5 days"

    answer("q")
    trace_id = tracepond.search_traces()[0].trace_id
    tracepond.log_feedback(trace_id, "correct", True)
    assert [a.name for a in tracepond.get_assessments(trace_id)] == ["correct"]
    provider.reset()
    assert assessments._listeners == []  # the pipeline took its listener back
