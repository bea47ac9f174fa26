"""Faults during an evaluation and what survives them: a judge whose model hangs, a scorer
returning something that cannot be stored, an evaluation inside a run, and a writer that fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tracepond
from tracepond.errors import StoreError
from tracepond.testing import FakeOpenAIServer

DATA = [
    {"inputs": {"question": "refund time?"}, "expectations": {"expected_response": "5 days"}},
    {"inputs": {"question": "shipping?"}, "expectations": {"expected_response": "2 days"}},
]


def answer(question: str) -> str:
    return "5 days"


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge")
        yield server


def test_a_judge_whose_model_hangs_times_out_and_the_rest_is_scored(
    store: str, openai_server: FakeOpenAIServer
) -> None:
    openai_server.slow_next(10.0)  # the first judge call hangs past the judge's timeout
    judge = tracepond.judges.make_judge(
        "grounded", "Is {{ outputs }} right for {{ expectations }}?", timeout_s=2
    )
    result = tracepond.evaluate(
        DATA, predict_fn=answer, scorers=[judge, tracepond.scorers.exact_match()]
    )
    verdicts = sorted(
        (a.error or str(a.value))
        for r in result.rows
        for a in r.assessments
        if a.name == "grounded"
    )
    assert verdicts == [
        "TimeoutError: scorer 'grounded' did not finish within 2s",
        "no",
    ]  # row 2 expects "2 days"
    assert result.metrics["exact_match/mean"] == 0.5  # the scorer after the hung one ran too


def test_a_scorer_value_that_cannot_be_stored_is_an_error_assessment(store: str) -> None:
    @tracepond.scorer
    def odd(outputs: str) -> object:
        return {"when": object()}

    result = tracepond.evaluate(
        DATA, predict_fn=answer, scorers=[odd, tracepond.scorers.exact_match()]
    )
    errors = {a.error for r in result.rows for a in r.assessments if a.name == "odd"}
    assert len(errors) == 1 and "cannot be stored as JSON" in errors.pop()
    assert result.metrics == {"exact_match/mean": 0.5}
    assert len(tracepond.sql("SELECT * FROM assessments WHERE name = 'odd'").fetchall()) == 2


def test_inside_an_active_run_the_evaluation_is_a_child_run(store: str) -> None:
    with tracepond.start_run(experiment="bot", name="parent") as parent:
        result = tracepond.evaluate(
            DATA, predict_fn=answer, scorers=[tracepond.scorers.exact_match()]
        )
        assert tracepond.active_run().run_id == parent.run_id  # still the parent's context
    child = tracepond.get_run(result.run_id)
    assert child.info.parent_run_id == parent.run_id and child.info.status == "FINISHED"


def test_a_store_that_cannot_be_written_fails_the_run_loudly(store: str, tmp_path) -> None:
    tracepond.evaluate(DATA[:1], predict_fn=answer, scorers=[tracepond.scorers.exact_match()])
    missing = str(tmp_path / "gone" / "s.duckdb")  # its directory does not exist
    with pytest.raises(StoreError, match="does not exist"):
        tracepond.evaluate(DATA, predict_fn=answer, scorers=[tracepond.scorers.exact_match()],
                           store=missing)  # fmt: skip
    assert len(tracepond.search_runs()) == 1  # the first store is as it was
