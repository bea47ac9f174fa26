"""The notebook view: self-contained HTML for a Trace and for search_traces results, escaped."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from tests.viewer.conftest import XSS_NAME, XSS_OUTPUT, SampleStore
from tracepond.display.notebook import (
    TraceListView,
    display,
    json_for_script,
    render_trace_html,
    render_traces_html,
)
from tracepond.store.query import get_trace, search_traces


def data_block(markup: str) -> str:
    match = re.search(
        r'<script type="application/json" class="tp-nb-data">(.*?)</script>', markup, re.S
    )
    assert match is not None
    return match.group(1)


def test_a_trace_renders_self_contained(sample_store: SampleStore) -> None:
    trace = get_trace(sample_store.ids["chat"], store=sample_store.path)
    markup = render_trace_html(trace)
    assert markup.startswith('<div class="tp-root tp-nb"') and markup.endswith("</div>")
    assert "<style>" in markup and "TP.notebookMount(" in markup
    assert "src=" not in markup and "href=" not in markup  # nothing loaded from a server
    assert "answer question" in markup and "gen_ai.input.messages" in markup
    assert _without_ids(trace._repr_html_()) == _without_ids(markup)  # what Jupyter shows


def _without_ids(markup: str) -> str:
    return re.sub(r"tp-[0-9a-f]{8}-\d+", "ID", markup)


def test_hostile_content_never_reaches_markup_unescaped(sample_store: SampleStore) -> None:
    markup = render_trace_html(get_trace(sample_store.ids["xss"], store=sample_store.path))
    assert XSS_OUTPUT not in markup and XSS_NAME not in markup
    assert "<img" not in markup and markup.count("<script") == 2  # the data block and the code
    assert html.escape(XSS_NAME) in markup  # the no-JavaScript fallback, escaped
    assert "\\u003cscript\\u003ewindow.__xss=2" in data_block(markup)
    listing = render_traces_html(search_traces(store=sample_store.path))
    assert XSS_NAME not in listing and "<img" not in listing


def test_json_for_script_cannot_close_the_block() -> None:
    text = json_for_script({"a": "</script><script>alert(1)</script>", "b": "\u2028&"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text


def test_a_list_renders_every_trace(sample_store: SampleStore) -> None:
    traces = search_traces(store=sample_store.path)
    markup = render_traces_html(traces)
    assert markup.count('class="tp-open"') == len(traces) == 4
    assert TraceListView(traces)._repr_html_().count('class="tp-open"') == 4


def test_search_results_render_inline_by_themselves(sample_store: SampleStore) -> None:
    """What search_traces returns is a list that Jupyter shows as the trace table."""
    traces = search_traces(store=sample_store.path)
    assert isinstance(traces, list)
    assert _without_ids(traces._repr_html_()) == _without_ids(render_traces_html(traces))
    assert XSS_NAME not in traces._repr_html_()


def test_display_publishes_html_in_ipython(sample_store: SampleStore) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    traces = search_traces(store=sample_store.path)
    with capture_output() as captured:
        assert display(traces) is None
        assert display(traces[0]) is None
    outputs = [o.data["text/html"] for o in captured.outputs]
    assert 'data-kind="list"' in outputs[0] and 'data-kind="trace"' in outputs[1]


@pytest.mark.browser
def test_notebook_markup_works_without_a_server(
    sample_store: SampleStore, tmp_path: Path, artifacts: Path
) -> None:
    from tests.viewer.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    traces = search_traces(store=sample_store.path)
    chat = get_trace(sample_store.ids["chat"], store=sample_store.path)
    page_file = tmp_path / "notebook.html"
    page_file.write_text(
        "<!doctype html><html><head><meta charset='utf-8'></head><body>"
        + render_trace_html(chat)
        + render_traces_html(traces)
        + "</body></html>",
        encoding="utf-8",
    )
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page: Any = browser.new_page(viewport={"width": 1300, "height": 1400})
        page.on("dialog", lambda d: (problems.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(page_file.as_uri())
        first = page.locator(".tp-nb").first
        first.locator(".tv-row").first.wait_for()
        assert first.locator(".tv-row:visible").count() == 4
        first.locator(f".tv-row[data-span-id='{sample_store.span_ids['chat']}']").click()
        assert "You are a weather bot." in first.locator(".chat").inner_text()
        listing = page.locator(".tp-nb").nth(1)
        listing.locator("tr.tp-open", has_text="img src").click()
        listing.locator(".tp-list-detail .chat").wait_for()
        assert XSS_OUTPUT in listing.locator(".tp-list-detail .chat").inner_text()
        assert page.evaluate("window.__xss") is None
        assert page.evaluate("document.querySelectorAll('.tp-nb img').length") == 0
        page.screenshot(path=str(artifacts / "test_notebook_view.png"), full_page=True)
        browser.close()
    assert problems == []
