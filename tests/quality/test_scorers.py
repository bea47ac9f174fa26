"""Scorers: arguments by name, every return shape, and the built-ins on real traces."""

from __future__ import annotations

import time
from typing import Any

import pytest

import tracepond
from tracepond import Feedback
from tracepond.errors import AssessmentError
from tracepond.tracking.scoring import ScorerInput


def _row(
    outputs: Any, expectations: dict[str, Any] | None = None, trace: Any = None
) -> ScorerInput:
    return ScorerInput({"question": "q"}, outputs, expectations or {}, lambda: trace)


def test_a_scorer_takes_arguments_by_name_and_keeps_its_name() -> None:
    @tracepond.scorer
    def concise(outputs: str) -> bool:
        return len(outputs) < 10

    @tracepond.scorer(name="echoes")
    def check(inputs: dict[str, Any], outputs: str, expectations: dict[str, Any]) -> bool:
        return inputs["question"] in outputs and expectations["k"] == 1

    assert concise.name == "concise" and check.name == "echoes"
    assert concise(outputs="short") is True  # callable directly, with keywords
    assert [f.value for f in concise.run(_row("short"))] == [True]
    assert [f.value for f in check.run(_row("q!", {"k": 1}))] == [True]


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (True, [("s", True, None)]),
        (0.5, [("s", 0.5, None)]),
        (3, [("s", 3, None)]),
        ("good", [("s", "good", None)]),
        (Feedback(value="yes", rationale="why"), [("s", "yes", "why")]),
        (
            [Feedback(name="a", value=1), Feedback(name="b", value=0)],
            [("a", 1, None), ("b", 0, None)],
        ),
    ],
)
def test_every_return_shape_becomes_feedback(returned: Any, expected: list[Any]) -> None:
    scorer = tracepond.scorer(name="s")(lambda outputs: returned)
    got = scorer.run(_row("x"))
    assert [(f.name, f.value, f.rationale) for f in got] == expected
    assert all(f.error is None for f in got)


def test_a_scorer_that_raises_or_hangs_or_returns_none_gives_an_error() -> None:
    @tracepond.scorer
    def broken(outputs: str) -> bool:
        raise ZeroDivisionError("division by zero")

    @tracepond.scorer(timeout_s=0.2)
    def hangs(outputs: str) -> bool:
        time.sleep(30)
        return True

    @tracepond.scorer
    def nothing(outputs: str) -> None:
        return None

    assert broken.run(_row("x"))[0].error == "ZeroDivisionError: division by zero"
    hung = hangs.run(_row("x"))[0]
    assert hung.error == "TimeoutError: scorer 'hangs' did not finish within 0.2s"
    assert "returned None" in (nothing.run(_row("x"))[0].error or "")


def test_an_unknown_argument_is_named() -> None:
    @tracepond.scorer
    def odd(outputs: str, context: str) -> bool:
        return True

    with pytest.raises(AssessmentError, match=r"'odd' asks for 'context'.*inputs, outputs"):
        odd.check()
    with pytest.raises(AssessmentError, match="timeout_s"):
        tracepond.scorer(timeout_s=0)(lambda outputs: True)


def test_text_builtins() -> None:
    s = tracepond.scorers
    expect = {"expected_response": "5 days"}
    assert s.exact_match().run(_row(" 5 days ", expect))[0].value is True
    assert s.exact_match().run(_row("6 days", expect))[0].value is False
    missing = s.exact_match().run(_row("5 days"))[0]
    assert "expected_response" in (missing.error or "")
    assert s.contains("DAYS").run(_row("in 5 days"))[0].value is True
    assert s.contains().run(_row("It takes 5 Days.", expect))[0].value is True
    assert s.contains("x", case_sensitive=True).run(_row("X"))[0].value is False
    assert s.regex(r"\d+ days").run(_row("in 5 days"))[0].value is True
    assert s.json_valid().run(_row('{"a": 1}'))[0].value is True
    assert s.json_valid().run(_row({"a": 1}))[0].value is True
    assert s.json_valid().run(_row("{nope"))[0].value is False
    names = [f().name for f in (s.exact_match, s.contains, s.json_valid)]
    assert names == ["exact_match", "contains", "json_valid"]


def test_trace_builtins_read_the_spans(store: str) -> None:
    @tracepond.trace(span_type="TOOL")
    def lookup_order(order: str) -> str:
        return "shipped"

    @tracepond.trace
    def agent(question: str) -> str:
        return lookup_order("o-1")

    agent("where is my order?")
    tracepond.flush()
    trace = tracepond.search_traces(max_results=1)[0]
    s = tracepond.scorers
    assert s.tool_called("lookup_order").run(_row("", trace=trace))[0].value is True
    assert s.tool_called("refund").run(_row("", trace=trace))[0].value is False
    assert s.max_latency_ms(60_000).run(_row("", trace=trace))[0].value is True
    assert s.max_latency_ms(0).run(_row("", trace=trace))[0].value is False
    no_tokens = s.max_tokens(10).run(_row("", trace=trace))[0]
    assert no_tokens.error == "ValueError: the trace has no tokens recorded"
    assert "no cost" in (s.max_cost_usd(1).run(_row("", trace=trace))[0].error or "")
    assert "needs the row's trace" in (s.tool_called("x").run(_row(""))[0].error or "")
