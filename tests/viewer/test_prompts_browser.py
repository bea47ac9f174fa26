"""The Prompts pages in headless Chromium: the list, a prompt's versions with their traces'
stats, the diff between two versions, the traces of a version, the trace page naming the prompt
a span loaded, and hostile prompt text shown as text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.viewer import test_browser
from tests.viewer.conftest import SampleStore
from tests.viewer.prompt_store import HOSTILE, PromptStore, build_prompt_store
from tests.viewer.test_browser import serving, wait_until

browser = test_browser.browser  # the Chromium fixtures of the viewer's browser tests
page = test_browser.page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def prompts_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, PromptStore]]:
    from tracepond.tracing import provider

    made = build_prompt_store(str(tmp_path_factory.mktemp("prompts") / "prompts.duckdb"))
    provider.reset()
    with serving(SampleStore(made.path)) as (url, _):
        yield url, made


def test_the_prompts_list_and_a_prompts_versions(
    prompts_served: tuple[str, PromptStore], page: Any
) -> None:
    url, _ = prompts_served
    page.goto(url + "/#/prompts")
    page.wait_for_selector("table.prompts tbody tr.row")
    text = page.locator("table.prompts").inner_text().lower()
    assert "support" in text and "hostile" in text and "production" in text
    page.click("table.prompts >> text=support")
    page.wait_for_selector("table.prompt-versions tbody tr.row")
    versions = page.locator("table.prompt-versions tbody tr.row")
    assert versions.count() == 2
    newest = versions.nth(0).inner_text()
    assert "v2" in newest and "kinder" in newest and "$0.060" in newest and "$0.030" in newest
    assert "$0.010" in versions.nth(1).inner_text()
    assert "Be kind and brief." in page.locator(".prompt-template").inner_text()
    assert "temperature" in page.locator(".prompt-version .facts").inner_text()
    versions.nth(0).locator("a.trace-filter").click()  # v2's 2 traces, in the trace list
    page.wait_for_selector("table.traces tbody tr.row")
    wait_until(page, "document.querySelectorAll('table.traces tbody tr.row').length === 2")
    assert page.input_value(".filter-input") == "prompt.name = 'support' AND prompt.version = 2"


def test_the_diff_between_two_versions(prompts_served: tuple[str, PromptStore], page: Any) -> None:
    url, _ = prompts_served
    page.goto(url + "/#/prompts/support")
    page.wait_for_selector(".diff-line.added")
    assert page.locator(".diff-line.removed").all_inner_texts() == ["−Be brief."]
    added = page.locator(".diff-line.added").all_inner_texts()
    assert "+Be kind and brief." in added and any("temperature = 0.2" in a for a in added)
    page.select_option("select[aria-label='From version']", "2")
    wait_until(page, "document.querySelectorAll('.diff-line.added').length === 0")
    assert "say the same" in page.locator(".diff-lines").inner_text()


def test_a_versions_traces_lead_to_the_trace_that_names_the_prompt(
    prompts_served: tuple[str, PromptStore], page: Any
) -> None:
    url, made = prompts_served
    page.goto(url + "/#/prompts/support?version=1")
    page.wait_for_selector("table.prompt-traces tbody tr")
    rows = page.locator("table.prompt-traces tbody tr")
    assert rows.count() == 1 and "$0.010" in rows.nth(0).inner_text()
    assert page.locator("table.prompt-versions tr.selected").get_attribute("data-version") == "1"
    page.wait_for_selector(".diff-line.added")  # the oldest version is compared with the next
    assert page.locator(".diff-line.removed").all_inner_texts() == ["−Be brief."]
    rows.nth(0).locator("a").click()
    page.wait_for_selector(".tv-row")
    assert made.traces[1][0] in page.url
    assert page.locator(".crumbs .trace-prompts a").all_inner_texts() == ["support v1"]
    page.locator(".tv-row >> text=chat").first.click()
    fact = page.locator(".span-detail .prompt-fact")
    fact.wait_for()
    assert fact.locator(".fact-key").inner_text() == "prompt"
    assert fact.locator("a").inner_text() == "support v1"
    fact.locator("a").click()
    page.wait_for_selector("table.prompt-versions tr.selected")
    assert page.locator("table.prompt-versions tr.selected").get_attribute("data-version") == "1"


def test_hostile_prompt_text_is_shown_as_text(
    prompts_served: tuple[str, PromptStore], page: Any
) -> None:
    url, _ = prompts_served
    page.goto(url + "/#/prompts/hostile")
    page.wait_for_selector(".prompt-template")
    assert page.locator(".prompt-template").inner_text() == HOSTILE
    assert "<b>bold</b>" in page.locator("table.prompt-versions").inner_text()
    assert page.evaluate("window.__xss === undefined")
    assert page.locator("table.prompt-versions b").count() == 0
