"""Datasets: created from records or traces, versioned by merge_records, to and from pandas
and JSONL, evaluated at a recorded version; bad input leaves the store as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tracepond
from tracepond.errors import AssessmentError, NotFoundError

RECORDS = [
    {"inputs": {"question": "refund time?"}, "expectations": {"expected_response": "5 days"}},
    {"inputs": {"question": "shipping?"}, "expectations": {"expected_response": "2 days"}},
]


def test_versions_and_merging_by_inputs(store: str) -> None:
    ds = tracepond.create_dataset("refund-questions", description="from support")
    assert ds.version == 0 and ds.records() == []
    ds.merge_records(RECORDS)
    assert ds.version == 1 and len(ds) == 2
    ds.merge_records(
        [
            {"inputs": {"question": "shipping?"}, "expectations": {"expected_facts": ["2 days"]}},
            {"inputs": {"question": "returns?"}},
        ]
    )
    assert ds.version == 2
    latest = tracepond.get_dataset("refund-questions")
    assert latest.version == 2 and latest.description == "from support"
    by_question = {r["inputs"]["question"]: r for r in latest.records()}
    assert by_question["shipping?"]["expectations"] == {
        "expected_response": "2 days",
        "expected_facts": ["2 days"],
    }
    assert set(by_question) == {"refund time?", "shipping?", "returns?"}
    first = tracepond.get_dataset("refund-questions", version=1)
    assert [
        r["expectations"] for r in first.records() if r["inputs"]["question"] == "shipping?"
    ] == [{"expected_response": "2 days"}]
    assert len(first) == 2
    assert tracepond.sql(
        "SELECT version, record_count FROM dataset_versions ORDER BY version"
    ).fetchall() == [(1, 2), (2, 3)]


def test_records_from_traces(store: str) -> None:
    @tracepond.trace
    def bot(question: str) -> str:
        return "5 days"

    bot("refund time?")
    [trace] = tracepond.search_traces()
    tracepond.log_expectation(trace.trace_id, "expected_response", "5 days")
    ds = tracepond.create_dataset("from-traces")
    ds.merge_records(tracepond.search_traces(max_results=50))
    [record] = ds.records()
    assert record["inputs"] == {"question": "refund time?"}
    assert record["outputs"] == "5 days"
    assert record["expectations"] == {"expected_response": "5 days"}
    assert record["source_trace_id"] == trace.trace_id


def test_pandas_and_jsonl_round_trips(store: str, tmp_path: Path) -> None:
    ds = tracepond.create_dataset("a").merge_records(pd.DataFrame(RECORDS))
    frame = ds.to_df()
    assert list(frame["inputs"]) == [r["inputs"] for r in RECORDS]
    path = ds.to_jsonl(tmp_path / "a.jsonl")
    assert len(path.read_text().splitlines()) == 2
    copy = tracepond.create_dataset("b").merge_records(path)
    assert copy.records() == ds.records()
    again = tracepond.create_dataset("c").merge_records(str(path))
    assert len(again) == 2


def test_evaluate_a_dataset_records_its_version(store: str) -> None:
    ds = tracepond.create_dataset("refund-questions").merge_records(RECORDS)

    def answer(question: str) -> str:
        return "5 days"

    result = tracepond.evaluate(ds, predict_fn=answer, scorers=[tracepond.scorers.exact_match()])
    assert result.metrics == {"exact_match/mean": 0.5}
    assert result.dataset == ("refund-questions", 1)
    tags = tracepond.get_run(result.run_id).data.tags
    assert tags["tracepond.dataset"] == "refund-questions"
    assert tags["tracepond.dataset_version"] == "1"
    expectations = [
        a
        for r in result.rows
        for a in tracepond.get_assessments(r.trace_id)
        if a.kind == "expectation"
    ]
    assert sorted(a.value for a in expectations) == ["2 days", "5 days"]


def test_a_dataset_name_that_does_not_exist(store: str, snapshot: Callable[[], Any]) -> None:
    tracepond.create_dataset("refund-questions")
    before = snapshot()
    with pytest.raises(
        NotFoundError, match="no dataset named 'refunds'; the datasets are: 'refund-questions'"
    ):
        tracepond.get_dataset("refunds")
    with pytest.raises(NotFoundError, match="versions 0 to 0, not 3"):
        tracepond.get_dataset("refund-questions", version=3)
    with pytest.raises(AssessmentError, match="already exists"):
        tracepond.create_dataset("refund-questions")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([RECORDS[0], {"expectations": {"x": 1}}], "record 1 has no 'inputs'"),
        ([{"inputs": {"q": object()}}], "cannot be stored as JSON"),
        (["text"], "record 0 is a str"),
        ([], "no records"),
    ],
)
def test_bad_records_merge_nothing(
    store: str, snapshot: Callable[[], Any], records: Any, message: str
) -> None:
    ds = tracepond.create_dataset("d").merge_records(RECORDS)
    before = snapshot()
    with pytest.raises(AssessmentError, match=message):
        ds.merge_records(records)
    assert snapshot() == before and ds.version == 1


def test_a_bad_jsonl_file_merges_nothing(
    store: str, snapshot: Callable[[], Any], tmp_path: Path
) -> None:
    ds = tracepond.create_dataset("d")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"inputs": {"q": 1}}\n{not json\n')
    before = snapshot()
    with pytest.raises(AssessmentError, match="line 2 is not JSON"):
        ds.merge_records(bad)
    with pytest.raises(AssessmentError, match="no JSONL file"):
        ds.merge_records(tmp_path / "missing.jsonl")
    assert snapshot() == before
