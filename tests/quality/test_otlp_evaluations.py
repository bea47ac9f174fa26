"""Over OTLP each feedback is a gen_ai.evaluation.result event on the evaluated span: sent by the
real OTLP/HTTP log exporter to a receiver on 127.0.0.1 and decoded there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import tracepond
from tests.interop.receivers import HttpReceiver, any_value
from tracepond.store import assessments
from tracepond.tracing import provider


def log_records(receiver: HttpReceiver) -> list[dict[str, Any]]:
    """Every log record the receiver got, decoded."""
    return [
        {"event_name": record.event_name, "trace_id": record.trace_id.hex(),
         "span_id": record.span_id.hex(),
         "attributes": {kv.key: any_value(kv.value) for kv in record.attributes}}
        for request in receiver.log_requests
        for resource_logs in request.resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def quick_exporter_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # The OTel exporters retry with backoff until this timeout; keep a down collector cheap.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as found:
        yield found


def _flush_events() -> None:
    for listener in list(assessments._listeners):
        listener.force_flush(10_000)  # type: ignore[attr-defined]


@pytest.mark.parametrize("with_content", [False, True])
def test_feedback_goes_out_as_evaluation_events(
    store: str, receiver: HttpReceiver, with_content: bool
) -> None:
    tracepond.configure(store=store, otlp_endpoint=receiver.base_url, export_content=with_content)

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

    records = log_records(receiver)
    events = {r["attributes"]["gen_ai.evaluation.name"]: r for r in records}
    assert set(events) == {"exact_match", "regex", "tone"}  # expectations are not sent
    assert "/v1/logs" in receiver.paths
    assert {r["event_name"] for r in records} == {"gen_ai.evaluation.result"}
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


def test_a_collector_that_is_down_delays_nothing(store: str, receiver: HttpReceiver) -> None:
    url = receiver.base_url
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
