"""evaluate(): rows traced in a run, each scorer's verdict an assessment, means as metrics;
and each bad input refused before anything is written."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import tracepond
from tracepond.errors import AssessmentError

DATA = [
    {"inputs": {"question": "refund time?"}, "expectations": {"expected_response": "5 days"}},
    {"inputs": {"question": "shipping?"}, "expectations": {"expected_response": "2 days"}},
    {"inputs": {"question": "returns?"}, "expectations": {"expected_response": "30 days"}},
    {"inputs": {"question": "warranty?"}, "expectations": {"expected_response": "1 year"}},
]
ANSWERS = {"refund time?": "5 days", "shipping?": "2 days", "returns?": "14 days"}


def answer(question: str) -> str:
    return ANSWERS.get(question, "I do not know, sorry, I really cannot tell you that one")


@tracepond.scorer
def concise(outputs: str) -> bool:
    return len(outputs) < 20


def test_evaluate_records_rows_assessments_and_metrics(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = tracepond.evaluate(
        DATA,
        predict_fn=answer,
        scorers=[concise, tracepond.scorers.exact_match()],
        experiment="support-bot",
        name="eval-4",
    )
    assert result.metrics == {"concise/mean": 0.75, "exact_match/mean": 0.5}
    assert capsys.readouterr().out == ""  # nothing on the app's stdout

    run = tracepond.get_run(result.run_id)
    assert run.info.name == "eval-4" and run.info.status == "FINISHED"
    assert run.data.metrics == {"concise/mean": 0.75, "exact_match/mean": 0.5}
    assert run.data.tags["tracepond.evaluation"] == "true"

    traces = tracepond.search_traces(run_id=result.run_id, order_by=["start_time ASC"])
    assert len(traces) == 4
    assert {t.trace_id for t in traces} == {r.trace_id for r in result.rows}
    by_question = {t.info.inputs["question"]: t for t in traces}
    first = by_question["refund time?"]
    assert first.info.outputs == "5 days" and first.info.name == "answer"
    got = {(a.name, a.kind): a for a in first.info.assessments}
    assert got[("exact_match", "feedback")].value is True
    assert got[("exact_match", "feedback")].source_type == "CODE"
    assert got[("exact_match", "feedback")].run_id == result.run_id
    assert got[("expected_response", "expectation")].value == "5 days"

    frame = result.df()
    assert list(frame["exact_match/value"]) == [True, True, False, False]
    assert list(frame["concise/value"]) == [True, True, True, False]
    assert set(frame.columns) >= {"trace_id", "inputs", "outputs", "expectations", "error"}
    assert tracepond.search_traces(filter="feedback.exact_match = FALSE", max_results=10)


def test_a_dataframe_and_parallel_workers(store: str) -> None:
    frame = pd.DataFrame(DATA)
    slow_calls: list[float] = []

    def slow_answer(question: str) -> str:
        slow_calls.append(time.monotonic())
        time.sleep(0.05)
        return answer(question)

    result = tracepond.evaluate(
        frame, predict_fn=slow_answer, scorers=[tracepond.scorers.exact_match()], max_workers=4
    )
    assert result.metrics == {"exact_match/mean": 0.5}
    assert [r.index for r in result.rows] == [0, 1, 2, 3]
    assert len(tracepond.search_traces(run_id=result.run_id)) == 4
    assert max(slow_calls) - min(slow_calls) < 0.04  # all four started together


def test_traces_are_rescored_as_they_are(store: str) -> None:
    @tracepond.trace
    def bot(question: str) -> str:
        return answer(question)

    for question in ANSWERS:
        bot(question)
    traces = tracepond.search_traces()
    tracepond.log_expectation(traces[0].trace_id, "expected_response", traces[0].info.outputs)
    traces = tracepond.search_traces()

    result = tracepond.evaluate(traces, scorers=[concise, tracepond.scorers.exact_match()])
    assert {r.trace_id for r in result.rows} == {t.trace_id for t in traces}
    assert result.metrics["concise/mean"] == 1.0
    assert result.metrics["exact_match/mean"] == 1.0  # only the row with an expectation counts
    assert len(tracepond.search_traces()) == 3  # no new trace
    scored = tracepond.get_assessments(traces[1].trace_id)
    assert {a.name for a in scored} == {"concise", "exact_match"}
    assert "expected_response" in ({a.error for a in scored if a.name == "exact_match"}.pop() or "")


def test_recorded_outputs_without_predict_fn(store: str) -> None:
    rows = [{"inputs": {"q": "a"}, "outputs": "short"}, {"inputs": {"q": "b"}, "outputs": "x" * 50}]
    result = tracepond.evaluate(rows, scorers=[concise])
    assert result.metrics == {"concise/mean": 0.5}
    assert len(tracepond.search_traces(run_id=result.run_id)) == 2


def test_a_raising_scorer_and_a_raising_predict_fn_leave_the_rest_scored(store: str) -> None:
    @tracepond.scorer
    def fragile(outputs: str) -> bool:
        if "know" in outputs:
            raise KeyError("no such rule")
        return True

    def flaky(question: str) -> str:
        if question == "shipping?":
            raise ConnectionError("backend down")
        return answer(question)

    result = tracepond.evaluate(DATA, predict_fn=flaky, scorers=[fragile, concise])
    by_index = {r.index: r for r in result.rows}
    assert by_index[1].error == "ConnectionError: backend down"
    failed = {a.name: a for a in by_index[1].assessments}
    assert failed["concise"].error == "predict_fn failed: ConnectionError: backend down"
    fragile_on_3 = next(a for a in by_index[3].assessments if a.name == "fragile")
    assert fragile_on_3.error == "KeyError: 'no such rule'" and fragile_on_3.value is None
    assert result.metrics == {"fragile/mean": 1.0, "concise/mean": 2 / 3}
    broken = tracepond.get_trace(by_index[1].trace_id)
    assert broken is not None and broken.info.status == "ERROR"
    assert any(e.name == "exception" for s in broken.spans for e in s.events)
    assert len({a.trace_id for r in result.rows for a in r.assessments}) == 4


def test_a_hanging_scorer_times_out_and_the_evaluation_goes_on(store: str) -> None:
    @tracepond.scorer(timeout_s=0.3)
    def stuck(outputs: str) -> bool:
        time.sleep(60)
        return True

    result = tracepond.evaluate(DATA[:2], predict_fn=answer, scorers=[stuck, concise])
    errors = [a.error for r in result.rows for a in r.assessments if a.name == "stuck"]
    assert errors == ["TimeoutError: scorer 'stuck' did not finish within 0.3s"] * 2
    assert result.metrics == {"concise/mean": 1.0}


def _refused(snapshot: Callable[[], Any], message: str, call: Callable[[], Any]) -> None:
    before = snapshot()
    with pytest.raises(AssessmentError, match=message):
        call()
    assert snapshot() == before


def test_an_unknown_scorer_argument_is_refused_before_anything_runs(
    store: str, make_trace: Callable[..., str], snapshot: Callable[[], Any]
) -> None:
    make_trace()
    calls: list[str] = []

    @tracepond.scorer
    def needs_context(outputs: str, retrieved: str) -> bool:
        return True

    def spy(question: str) -> str:
        calls.append(question)
        return "x"

    _refused(snapshot, "'needs_context' asks for 'retrieved'",
             lambda: tracepond.evaluate(DATA, predict_fn=spy, scorers=[concise, needs_context]))  # fmt: skip
    assert calls == []


def test_a_scorer_name_used_twice_is_refused(
    store: str, make_trace: Callable[..., str], snapshot: Callable[[], Any]
) -> None:
    make_trace()
    other = tracepond.scorer(name="concise")(lambda outputs: True)
    _refused(snapshot, "two scorers are named 'concise'",
             lambda: tracepond.evaluate(DATA, predict_fn=answer, scorers=[concise, other]))  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"question": "no inputs key"}], "row 0 has no 'inputs'"),
        ([DATA[0], {"inputs": {}}], "row 1 has inputs {}"),
        ([DATA[0], "text"], "row 1 is a str"),
        ([], "data is empty"),
        ({"inputs": {"q": 1}}, "data must be a list"),
        (pd.DataFrame([{"expectations": {}}]), "row 0 has no 'inputs'"),
    ],
)
def test_data_rows_without_inputs_are_refused(
    store: str, make_trace: Callable[..., str], snapshot: Callable[[], Any], data: Any, message: str
) -> None:
    make_trace()
    _refused(snapshot, message,
             lambda: tracepond.evaluate(data, predict_fn=answer, scorers=[concise]))  # fmt: skip


def test_other_bad_arguments(
    store: str, make_trace: Callable[..., str], snapshot: Callable[[], Any]
) -> None:
    trace_id = make_trace()
    trace = tracepond.get_trace(trace_id)
    _refused(
        snapshot, "max_workers", lambda: tracepond.evaluate(DATA, answer, [concise], max_workers=0)
    )
    _refused(snapshot, "at least one scorer", lambda: tracepond.evaluate(DATA, answer, []))
    _refused(snapshot, "predict_fn=None", lambda: tracepond.evaluate([trace], answer, [concise]))
    _refused(snapshot, "no 'outputs'", lambda: tracepond.evaluate(DATA, None, [concise]))
    _refused(snapshot, "scorers must be", lambda: tracepond.evaluate(DATA, answer, ["concise"]))
