"""The quality pages in headless Chromium: a trace's assessments and its feedback form, the
Evaluations page, and two runs compared with the regression highlighted. Hostile text stays
text. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import tracepond
from tests.viewer.conftest import XSS_OUTPUT, SampleStore, build_sample_store
from tests.viewer.test_browser import browser, page, serving, wait_until
from tracepond.tracking import runs

__all__ = ["browser", "page"]  # the fixtures, shared with the other browser tests
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SampleStore]]:
    store = build_sample_store(str(tmp_path_factory.mktemp("quality") / "viewer.duckdb"))
    runs.reset()
    tracepond.configure(store=store.path)
    data = [{"inputs": {"question": "refund?"}, "expectations": {"expected_response": "5 days"}},
            {"inputs": {"question": XSS_OUTPUT}, "expectations": {"expected_response": "2 days"}}]  # fmt: skip
    scorers = [tracepond.scorers.exact_match()]
    answers = {"refund?": "5 days", XSS_OUTPUT: "2 days"}
    first = tracepond.evaluate(data, predict_fn=lambda question: answers[question],
                               scorers=scorers, name="good-run")  # fmt: skip
    second = tracepond.evaluate(data, predict_fn=lambda question: XSS_OUTPUT,
                                scorers=scorers, name="worse-run")  # fmt: skip
    store.ids["good"], store.ids["worse"] = first.run_id, second.run_id
    with serving(store) as both:
        yield both


def test_feedback_from_the_trace_page(evaluated: tuple[str, SampleStore], page: Any) -> None:
    url, store = evaluated
    trace_id = store.ids["xss"]
    page.goto(f"{url}/#/trace/{trace_id}")
    page.wait_for_selector(".assessments .feedback-form")
    assert "No feedback" in page.locator(".assessments").inner_text()
    page.fill(".feedback-comment", XSS_OUTPUT)
    page.click(".thumb-down")
    page.wait_for_selector(".assessments table tbody tr")
    row = page.locator(".assessments table tbody tr").first.inner_text()
    assert "user_feedback" in row and "false" in row and XSS_OUTPUT in row
    assert page.evaluate("document.querySelectorAll('main img, main script').length") == 0
    assert page.evaluate("window.__xss") is None
    [stored] = tracepond.get_assessments(trace_id, store=store.path)
    assert (stored.value, stored.rationale, stored.source_type) == (False, XSS_OUTPUT, "HUMAN")


def test_evaluations_page_and_a_comparison(evaluated: tuple[str, SampleStore], page: Any) -> None:
    url = evaluated[0]
    page.goto(f"{url}/#/evaluations")
    page.wait_for_selector("table.grid tbody tr")
    text = page.locator("main").inner_text()
    assert "good-run" in text and "worse-run" in text and "exact_match/mean 1" in text

    page.click("text=worse-run")
    page.wait_for_selector("td.verdict")
    assert XSS_OUTPUT in page.locator("main").inner_text()  # the outputs, drawn as text
    assert page.evaluate("window.__xss") is None

    page.goto(f"{url}/#/evaluations")
    page.wait_for_selector("table.grid tbody tr")
    page.check("input[aria-label='pick good-run']")
    page.check("input[aria-label='pick worse-run']")
    page.click("button.compare")
    page.wait_for_selector("tr.regressed")
    assert "2 row(s) changed, 2 regressed" in page.locator("main").inner_text()
    assert page.locator("td.verdict.worse").count() == 2
    page.locator("tr.regressed a.mono").first.click()
    wait_until(page, "location.hash.indexOf('#/trace/') === 0")
    page.wait_for_selector(".assessments table")
    assert "exact_match" in page.locator(".assessments").inner_text()
