"""`tracepond eval list`, `eval show RUN`, `eval compare RUN_A RUN_B` over real evaluations."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import tracepond
from tracepond.cli import main

DATA = [
    {"inputs": {"question": "refund time?"}, "expectations": {"expected_response": "5 days"}},
    {"inputs": {"question": "shipping?"}, "expectations": {"expected_response": "2 days"}},
    {"inputs": {"question": "returns?"}, "expectations": {"expected_response": "30 days"}},
]


@tracepond.scorer
def concise(outputs: str) -> bool:
    return len(outputs) < 10


@pytest.fixture
def two_runs(store: str) -> tuple[str, str]:
    good = {"refund time?": "5 days", "shipping?": "2 days", "returns?": "30 days"}
    worse = {
        "refund time?": "5 days",
        "shipping?": "it depends on the carrier",
        "returns?": "30 days",
    }
    scorers = [concise, tracepond.scorers.exact_match()]
    a = tracepond.evaluate(DATA, predict_fn=lambda question: good[question], scorers=scorers,
                           experiment="bot", name="eval-a")  # fmt: skip
    b = tracepond.evaluate(DATA, predict_fn=lambda question: worse[question], scorers=scorers,
                           experiment="bot", name="eval-b")  # fmt: skip
    return a.run_id, b.run_id


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_list_and_show(store: str, two_runs: tuple[str, str]) -> None:
    code, out = invoke("eval", "list", "--store", store)
    assert code == 0, out
    assert "eval-a" in out and "eval-b" in out and "exact_match/mean=1" in out
    code, out = invoke("eval", "list", "--store", store, "--format", "json")
    listed = [json.loads(line) for line in out.splitlines()]
    assert [e["name"] for e in listed] == ["eval-b", "eval-a"] and listed[0]["rows"] == 3

    code, out = invoke("eval", "show", "eval-b", "--store", store)
    assert code == 0, out
    assert "it depends on the carrier" in out and "concise" in out and "3 rows" in out
    code, out = invoke("eval", "show", two_runs[1], "--store", store, "--format", "json")
    shown = json.loads(out)
    scores = {r["inputs"]["question"]: r["scores"] for r in shown["rows"]}
    assert scores["shipping?"]["exact_match"]["value"] is False
    assert shown["rows"][0]["expectations"] == {"expected_response": "5 days"}


def test_compare_shows_means_and_the_rows_that_regressed(
    store: str, two_runs: tuple[str, str]
) -> None:
    code, out = invoke("eval", "compare", "eval-a", "eval-b", "--store", store)
    assert code == 0, out
    assert "1 row(s) changed, 1 regressed" in out
    assert "REGRESSED" in out and "shipping?" in out and "true -> false" in out
    code, out = invoke("eval", "compare", *two_runs, "--store", store, "--format", "json")
    compared = json.loads(out)
    assert compared["means"]["exact_match"][0] == 1.0
    [row] = compared["rows"]
    assert row["regressed"] == ["concise", "exact_match"]
    assert row["b"]["trace_id"] != row["a"]["trace_id"]


def test_an_unknown_run_is_one_line(store: str, two_runs: tuple[str, str]) -> None:
    code, out = invoke("eval", "show", "nope", "--store", store)
    assert code == 1 and out.strip() == "Error: no evaluation run with id or name 'nope'"
