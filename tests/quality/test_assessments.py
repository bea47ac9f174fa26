"""Feedback and expectations: logged, read back three ways, overridden, deleted; bad input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

import tracepond
from tracepond.errors import AssessmentError, NotFoundError


def test_feedback_and_expectation_read_back_everywhere(
    store: str, make_trace: Callable[..., str]
) -> None:
    trace_id = make_trace()
    fb = tracepond.log_feedback(
        trace_id, "correct", True, source="human:ana", rationale="matches policy"
    )
    tracepond.log_expectation(trace_id, "expected_answer", "5 days")

    found = tracepond.get_assessments(trace_id)
    assert [(a.name, a.kind, a.value) for a in found] == [
        ("correct", "feedback", True),
        ("expected_answer", "expectation", "5 days"),
    ]
    first = found[0]
    assert first.assessment_id == fb.assessment_id
    assert (first.source_type, first.source_id) == ("HUMAN", "ana")
    assert first.source.source_type == "HUMAN" and first.source.source_id == "ana"
    assert first.rationale == "matches policy" and first.valid and first.overrides is None
    assert first.create_time is not None and first.create_time.tzinfo == dt.timezone.utc

    trace = tracepond.get_trace(trace_id)
    assert trace is not None
    assert [a.name for a in trace.info.assessments] == ["correct", "expected_answer"]
    assert trace.to_dict()["info"]["assessments"][0]["value"] is True
    listed = tracepond.search_traces(filter="feedback.correct = TRUE")
    assert [t.trace_id for t in listed] == [trace_id]
    assert listed[0].info.assessments[0].name == "correct"

    rows = tracepond.sql(
        "SELECT name, kind, value, source_type, source_id, rationale, error, valid, overrides "
        "FROM assessments ORDER BY create_time"
    ).fetchall()
    assert rows == [
        ("correct", "feedback", "true", "HUMAN", "ana", "matches policy", None, True, None),
        ("expected_answer", "expectation", '"5 days"', "HUMAN", None, None, None, True, None),
    ]


def test_feedback_on_a_span_and_with_every_value_shape(
    store: str, make_trace: Callable[..., str]
) -> None:
    trace_id = make_trace()
    trace = tracepond.get_trace(trace_id)
    assert trace is not None
    child = trace.spans[-1].span_id
    values: list[Any] = [0.75, 3, "good", ["a", "b"], {"score": 1, "why": "ok"}]
    for index, value in enumerate(values):
        tracepond.log_feedback(trace_id, f"f{index}", value, span_id=child, source="code:check")
    got = {a.name: a for a in tracepond.get_assessments(trace_id)}
    assert [got[f"f{i}"].value for i in range(len(values))] == values
    assert {a.span_id for a in got.values()} == {child}
    assert {a.source_type for a in got.values()} == {"CODE"}


def test_filters_on_feedback_and_expectations(store: str, make_trace: Callable[..., str]) -> None:
    good, bad = make_trace(answer="5 days"), make_trace(answer="no idea")
    tracepond.log_feedback(good, "score", 0.9)
    tracepond.log_feedback(bad, "score", 0.2)
    tracepond.log_feedback(bad, "tone", "rude")
    tracepond.log_expectation(good, "expected_response", "5 days")

    def ids(text: str) -> set[str]:
        return {t.trace_id for t in tracepond.search_traces(filter=text)}

    assert ids("feedback.score > 0.5") == {good}
    assert ids("feedback.score <= 0.5") == {bad}
    assert ids("feedback.tone = 'rude'") == {bad}
    assert ids("feedback.tone IS NULL") == set()  # IS NULL is about a present value, as text
    assert ids("expectation.expected_response LIKE '5%'") == {good}
    assert ids("feedback.score > 0.1 AND feedback.tone != 'rude'") == set()
    assert ids("feedback.score > 0.1 AND name = 'outer'") == {good, bad}
    with pytest.raises(ValueError, match="feedbak"):
        tracepond.search_traces(filter="feedbak.score > 1")


def test_override_keeps_history_and_delete_restores(
    store: str, make_trace: Callable[..., str]
) -> None:
    trace_id = make_trace()
    first = tracepond.log_feedback(trace_id, "correct", False, source="llm_judge:gpt-4o-mini")
    second = tracepond.override_feedback(
        trace_id, first.assessment_id, True, rationale="a person checked", source="human:bo"
    )
    history = {a.assessment_id: a for a in tracepond.get_assessments(trace_id)}
    assert history[first.assessment_id].valid is False
    assert history[second.assessment_id].valid is True
    assert history[second.assessment_id].overrides == first.assessment_id
    assert {t.trace_id for t in tracepond.search_traces(filter="feedback.correct = TRUE")} == {
        trace_id
    }
    assert tracepond.search_traces(filter="feedback.correct = FALSE") == []

    tracepond.delete_assessment(trace_id, second.assessment_id)
    left = tracepond.get_assessments(trace_id)
    assert [(a.assessment_id, a.valid) for a in left] == [(first.assessment_id, True)]


def test_feedback_on_a_missing_trace_is_refused_and_writes_nothing(
    store: str, make_trace: Callable[..., str], snapshot: Callable[[], Any]
) -> None:
    make_trace()
    before = snapshot()
    with pytest.raises(NotFoundError, match=r"no trace with id '0{32}'"):
        tracepond.log_feedback("0" * 32, "correct", True)
    with pytest.raises(AssessmentError, match="32 hexadecimal"):
        tracepond.log_feedback("not-a-trace", "correct", True)
    assert snapshot() == before


def test_a_value_that_cannot_be_serialized_is_refused(
    store: str, make_trace: Callable[..., str], snapshot: Callable[[], Any]
) -> None:
    trace_id = make_trace()
    before = snapshot()
    with pytest.raises(AssessmentError, match=r"'correct' cannot be stored as JSON.*object"):
        tracepond.log_feedback(trace_id, "correct", object())
    with pytest.raises(AssessmentError, match="metadata"):
        tracepond.log_expectation(trace_id, "x", 1, metadata={"k": {1, 2}})
    assert snapshot() == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "non-empty string"),
        ({"source": "robot:r2"}, "unknown assessment source"),
        ({"span_id": "xyz"}, "16 hexadecimal"),
        ({"value": None}, "needs a value"),
    ],
)
def test_bad_arguments_are_refused(
    store: str,
    make_trace: Callable[..., str],
    snapshot: Callable[[], Any],
    kwargs: dict[str, Any],
    message: str,
) -> None:
    trace_id = make_trace()
    before = snapshot()
    call: dict[str, Any] = {"name": "ok", "value": 1, **kwargs}
    with pytest.raises(AssessmentError, match=message):
        tracepond.log_feedback(trace_id, **call)
    assert snapshot() == before


def test_override_and_delete_of_unknown_ids(
    store: str, make_trace: Callable[..., str], snapshot: Callable[[], Any]
) -> None:
    trace_id, other = make_trace(), make_trace()
    mine = tracepond.log_feedback(other, "correct", True)
    before = snapshot()
    with pytest.raises(NotFoundError, match="no assessment with id 'a-nope'"):
        tracepond.override_feedback(trace_id, "a-nope", True)
    with pytest.raises(NotFoundError, match="on trace"):
        tracepond.delete_assessment(trace_id, mine.assessment_id)  # belongs to another trace
    assert snapshot() == before
