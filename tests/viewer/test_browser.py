"""The real pages in headless Chromium (Debian's chromium, driven by Playwright).

Filter, open a trace, expand/collapse, read a chat message, see hostile content as text, see a
chart, and a big trace drawn with only the visible rows. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.viewer.conftest import XSS_NAME, XSS_OUTPUT, SampleStore, build_sample_store
from tests.viewer.test_ingest import free_port
from tracepond.viewer.server import create_app

CHROMIUM = os.environ.get("TRACEPOND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser

BIG_TRACE_SPANS = 5_000


def write_big_trace(path: str, spans: int) -> str:
    """A root with 50 children and the rest spread under them, through the store's writer."""
    from opentelemetry import trace as otel_trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tracepond.store.writer import write_spans

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("big")
    start = time.time_ns()
    root = tracer.start_span("big job", start_time=start)
    steps = []
    for i in range(50):
        ctx = otel_trace.set_span_in_context(root)
        steps.append(tracer.start_span(f"step {i}", context=ctx, start_time=start + i * 1_000_000))
    for i in range(spans - 51):
        ctx = otel_trace.set_span_in_context(steps[i % 50])
        at = start + i * 10_000
        tracer.start_span(f"tool call {i}", context=ctx, start_time=at).end(end_time=at + 500_000)
    for i, step in enumerate(steps):
        step.end(end_time=start + spans * 10_000 + i)
    root.end(end_time=start + spans * 10_000 + 100)
    write_spans(path, exporter.get_finished_spans())
    return format(root.get_span_context().trace_id, "032x")


@contextmanager
def serving(store: SampleStore, app: Any = None) -> Iterator[tuple[str, SampleStore]]:
    """The viewer over `store` (or `app`), served by uvicorn in a thread on a free port."""
    port = free_port()
    config = uvicorn.Config(
        app or create_app(store.path), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        server.should_exit = True
        thread.join(5)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SampleStore]]:
    with serving(
        build_sample_store(str(tmp_path_factory.mktemp("browser") / "viewer.duckdb"))
    ) as both:
        yield both


@pytest.fixture(scope="module")
def served_big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SampleStore]]:
    store = SampleStore(str(tmp_path_factory.mktemp("big") / "big.duckdb"))
    store.ids["big"] = write_big_trace(store.path, BIG_TRACE_SPANS)
    with serving(store) as both:
        yield both


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():  # a missing browser is a broken setup, not a passing test
        pytest.fail(
            f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set TRACEPOND_CHROMIUM)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.problems = problems
    yield tab
    tab.screenshot(path=str(artifacts / f"{request.node.name}.png"))
    context.close()
    assert problems == []


def wait_until(page: Any, expression: str, timeout_s: float = 10.0) -> None:
    """Poll a JS expression (page.evaluate is not subject to the page's CSP, wait_for_function is)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def rows(page: Any) -> list[str]:
    return [str(t) for t in page.locator("table.traces tbody tr.row td.name").all_inner_texts()]


def test_traces_page_lists_filters_and_shows_errors_inline(
    served: tuple[str, SampleStore], page: Any
) -> None:
    url, _ = served
    page.goto(url + "/")
    page.wait_for_selector("table.traces tbody tr.row")
    assert sorted(rows(page)) == sorted(["long job", XSS_NAME, "summarize", "answer question"])
    assert page.locator("tr.row .badge.running").count() == 1
    page.fill(".filter-input", "status = 'ERROR'")
    page.press(".filter-input", "Enter")
    wait_until(page, "document.querySelectorAll('table.traces tbody tr.row').length === 1")
    assert rows(page) == ["summarize"]
    assert "filter=status" in page.url
    assert page.locator("tr.row .badge.failed").inner_text().lower() == "2 failed steps"
    page.fill(".filter-input", "status = ")
    page.click("text=Apply")
    error = page.locator(".filter-error")
    error.wait_for(state="visible")
    assert "expected a value" in error.inner_text()
    assert rows(page) == []  # the old rows answered another filter: they do not stay
    assert "Fix the filter" in page.locator("table.traces td.empty").inner_text()


def test_trace_page_tree_timeline_and_chat(served: tuple[str, SampleStore], page: Any) -> None:
    url, store = served
    page.goto(url + "/#/traces")
    page.click("text=answer question")
    page.wait_for_selector(".tv-row")
    assert page.locator(".tv-row:visible").count() == 4
    assert page.locator(".stat-value").first.inner_text() == "1.00 s"
    page.locator(".tv-row:visible .tv-toggle.has-kids").first.click()  # collapse the root
    wait_until(
        page,
        "[...document.querySelectorAll('.tv-row')].filter(r => r.style.display !== 'none').length === 1",
    )
    page.locator(".tv-row:visible .tv-toggle.has-kids").first.click()  # and expand it again
    wait_until(
        page,
        "[...document.querySelectorAll('.tv-row')].filter(r => r.style.display !== 'none').length === 4",
    )
    page.locator(f".tv-row[data-span-id='{store.span_ids['chat']}']").click()
    page.wait_for_selector(".span-detail .chat")
    chat = page.locator(".span-detail .chat")
    assert "You are a weather bot." in chat.locator(".msg-system").inner_text()
    assert chat.locator(".msg.role-user").inner_text().endswith("What is the weather in Paris?")
    assert chat.locator(".tool-name").inner_text() == "get_weather"
    page.click(".tab >> text=Attributes")
    assert "gen_ai.request.model" in page.locator("table.kv").inner_text()
    page.fill(".tv-search", "weather")
    wait_until(page, "document.querySelector('.tv-matches')?.textContent === '1 match'")


def test_hostile_content_is_shown_as_text(served: tuple[str, SampleStore], page: Any) -> None:
    url, store = served
    page.goto(url + "/#/traces")
    page.wait_for_selector("table.traces tbody tr.row")
    assert XSS_NAME in rows(page)
    page.goto(f"{url}/#/trace/{store.ids['xss']}")
    page.wait_for_selector(".span-detail .chat")
    assert page.locator(".tv-title h1").inner_text() == XSS_NAME
    assert XSS_OUTPUT in page.locator(".span-detail .chat").inner_text()
    page.click(".tab >> text=Inputs / Outputs")
    assert XSS_OUTPUT in page.locator(".span-detail").inner_text()
    injected = page.evaluate("document.querySelectorAll('main img, main script, main b').length")
    assert injected == 0
    assert page.evaluate("window.__xss") is None


def test_error_trace_shows_the_exception_stack(served: tuple[str, SampleStore], page: Any) -> None:
    url, store = served
    page.goto(f"{url}/#/trace/{store.ids['error']}")
    page.locator(f".tv-row[data-span-id='{store.span_ids['error']}']").click()
    page.wait_for_selector(".span-detail .error-box")
    page.click(".tab >> text=Events")
    assert "RuntimeError: rate limited by provider" in page.locator(".exc-title").inner_text()
    assert "Traceback" in page.locator("pre.stack").inner_text()


def test_dashboard_draws_charts(served: tuple[str, SampleStore], page: Any) -> None:
    url, _ = served
    page.goto(url + "/#/dashboard?range=1h")
    page.wait_for_selector(".card svg.chart-svg rect.bar")
    assert page.locator(".card").count() == 5
    assert page.locator("svg.chart-svg path.line").count() >= 2
    assert page.locator(".stats.big .stat-value").first.inner_text() == "4"
    clipped = page.evaluate(
        """[...document.querySelectorAll('svg.chart-svg')].filter(svg => {
             const width = svg.viewBox.baseVal.width || svg.getBoundingClientRect().width;
             return [...svg.querySelectorAll('text.axis-label')].some(t => {
               const box = t.getBBox(); return box.x < 0 || box.x + box.width > width + 0.5; });
           }).length"""
    )
    assert clipped == 0  # the first and last time labels are inside their chart


def test_sessions_and_sql_pages(served: tuple[str, SampleStore], page: Any) -> None:
    url, _ = served
    page.goto(url + "/#/sessions")
    page.click("text=s1")
    page.wait_for_selector(".session-chat .msg")
    assert "It is sunny in Paris." in page.locator(".session-chat").inner_text()
    page.goto(url + "/#/sql")
    page.wait_for_selector("table.sql tbody tr")
    page.fill(".sql-editor", "SELECT count(*) AS n FROM traces")
    page.click(".toolbar .btn.primary")
    wait_until(page, "document.querySelector('table.sql th')?.textContent === 'n'")
    assert page.locator("table.sql td").inner_text() == "4"
    assert page.locator(".toolbar span.muted").first.inner_text().startswith("1 row ")
    costs = page.evaluate("[0.00002, 0.0032, 0.5, 12.3].map(TP.fmt.cost)")
    assert costs == ["$0.000020", "$0.0032", "$0.50", "$12.30"]  # as the CLI and the notebook
    assert (
        page.locator("a >> text=Download CSV").get_attribute("href").startswith("/api/sql.csv?sql=")
    )
    page.fill(".sql-editor", "DELETE FROM traces")
    page.click(".toolbar .btn.primary")
    page.wait_for_selector(".sql-result .error-box")
    assert "read-only" in page.locator(".sql-result .error-box").inner_text()
    page.fill(".sql-editor", "SELECT nme FROM traces")
    page.click(".toolbar .btn.primary")
    wait_until(page, "/nme/.test(document.querySelector('.sql-result .error-box')?.textContent)")
    font = page.evaluate(
        "getComputedStyle(document.querySelector('.sql-result .error-box')).fontFamily"
    )
    assert "monospace" in font  # the caret under the statement lines up
    page.fill(".sql-editor", "SELECT 1; SELECT 2")
    page.click(".toolbar .btn.primary")
    wait_until(
        page, "/one statement/.test(document.querySelector('.sql-result .error-box')?.textContent)"
    )


def test_dark_mode_renders(served: tuple[str, SampleStore], browser: Any, artifacts: Path) -> None:
    url, store = served
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme="dark")
    tab = context.new_page()
    tab.goto(f"{url}/#/trace/{store.ids['chat']}")
    tab.locator(f".tv-row[data-span-id='{store.span_ids['chat']}']").click()
    tab.wait_for_selector(".span-detail .chat")
    background = tab.evaluate("getComputedStyle(document.body).backgroundColor")
    tab.screenshot(path=str(artifacts / "test_dark_mode_trace.png"))
    context.close()
    assert background == "rgb(17, 18, 24)"


def test_a_big_trace_draws_only_visible_rows(
    served_big: tuple[str, SampleStore], page: Any
) -> None:
    url, store = served_big
    page.goto(f"{url}/#/trace/{store.ids['big']}")
    page.wait_for_selector(".tv-row")
    assert page.locator(".stat-value").nth(1).inner_text() == f"{BIG_TRACE_SPANS:,}"
    shown = (
        "[...document.querySelectorAll('.tv-row')].filter(r => r.style.display !== 'none').length"
    )
    assert page.evaluate(shown) < 120  # virtualized: a screenful plus a margin
    assert page.evaluate("TP.lastView.visible.length") == 51  # opened folded below the steps
    page.click("text=Expand all")
    wait_until(page, f"TP.lastView.visible.length === {BIG_TRACE_SPANS}")
    assert page.evaluate("document.querySelectorAll('.tv-row').length") < 120
    page.evaluate("document.querySelector('.tv-scroll').scrollTop = 1e9")
    last = max(
        i for i in range(BIG_TRACE_SPANS - 51) if i % 50 == 49
    )  # last child of the last step
    wait_until(
        page,
        f"!![...document.querySelectorAll('.tv-row .tv-name')].find(n => n.textContent === 'tool call {last}' && n.closest('.tv-row').style.display !== 'none')",
    )
    page.fill(".tv-search", "tool call 4999")
    wait_until(page, "document.querySelector('.tv-matches')?.textContent === '0 matches'")
    page.fill(".tv-search", "tool call 49")
    expected = sum("tool call 49" in f"tool call {i}" for i in range(BIG_TRACE_SPANS - 51))
    wait_until(page, f"document.querySelector('.tv-matches')?.textContent === '{expected} matches'")


def test_new_traces_appear_without_a_reload(tmp_path: Path, page: Any) -> None:
    with serving(build_sample_store(str(tmp_path / "live.duckdb"))) as (url, store):
        watch_new_trace_arrive(url, store, page)


def watch_new_trace_arrive(url: str, store: SampleStore, page: Any) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tracepond.store.writer import write_spans

    page.goto(url + "/#/traces")
    page.wait_for_selector("table.traces tbody tr.row")
    page.evaluate("window.__samePage = true")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("live").start_span("arrived while watching").end()
    write_spans(store.path, exporter.get_finished_spans())
    page.locator("tr.row.fresh td.name", has_text="arrived while watching").wait_for(timeout=15_000)
    assert rows(page)[0] == "arrived while watching"
    assert page.evaluate("window.__samePage") is True  # no reload happened


def test_a_running_trace_says_so(served: tuple[str, SampleStore], page: Any) -> None:
    url, store = served
    page.goto(f"{url}/#/traces")
    page.locator("tr.row", has_text="long job").locator(".badge.running").wait_for()
    page.goto(f"{url}/#/trace/{store.ids['running']}")
    page.wait_for_selector(".running-note")
    assert "still running" in page.locator(".running-note").inner_text()
    assert page.locator(".tv-detail").inner_text() == "No span of this trace has finished yet."


def test_runs_page_links_to_the_run_traces(served: tuple[str, SampleStore], page: Any) -> None:
    from tracepond.tracking.runs import start_run

    url, store = served
    with start_run(experiment="browser-exp", name="nightly-eval", store=store.path) as run:
        pass
    page.goto(url + "/#/runs")
    link = page.locator(f"a >> text={run.info.run_id}")
    link.wait_for()
    assert "nightly-eval" in page.locator("table.grid").inner_text()
    link.click()
    page.wait_for_selector("table.traces td.empty")
    assert page.input_value(".filter-input") == f"run_id = '{run.info.run_id}'"
    assert "No traces match this filter." in page.locator("table.traces").inner_text()


def test_a_missing_trace_page_says_the_apis_reason(
    served: tuple[str, SampleStore], page: Any
) -> None:
    url, _ = served
    page.goto(f"{url}/#/trace/{'f' * 32}")
    page.wait_for_selector(".error-box")
    text = page.locator(".error-box").inner_text()
    assert text.startswith(f"No trace with id {'f' * 32}: ") and len(text) > 50
    page.goto(f"{url}/#/no-such-page")
    page.wait_for_selector(".page-empty")
    assert "no-such-page" in page.locator(".page-empty").inner_text()


class Recorder:
    """ASGI middleware that notes each request's path and answer status (the test's eyes on
    what a cross-site page could not read)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def noting(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, noting)


ATTACK_PAGE = """<!doctype html><html><body>
<img src="{viewer}/api/sql.csv?sql=SELECT+*+FROM+spans">
<script>
const ignore = () => {{}};  // the refusals (and CORP) make these fail: the page shrugs
fetch("{viewer}/api/traces", {{mode: "no-cors", credentials: "include"}}).catch(ignore);
fetch("{viewer}/api/sql", {{method: "POST", mode: "no-cors", body: '{{"sql": "SELECT 1"}}',
  headers: {{"Content-Type": "text/plain"}}}}).catch(ignore);
fetch("{viewer}/v1/traces", {{method: "POST", mode: "no-cors", body: "{{}}",
  headers: {{"Content-Type": "text/plain"}}}}).catch(ignore);
</script></body></html>"""


@pytest.mark.parametrize("attacker_host", ["localhost", "127.0.0.1"])  # cross-site, same-site
def test_a_page_on_another_site_cannot_reach_the_viewer(
    tmp_path: Path, page: Any, attacker_host: str
) -> None:
    store = build_sample_store(str(tmp_path / "attacked.duckdb"))
    recorder = Recorder(create_app(store.path))
    with serving(store, recorder) as (viewer, _):
        attack(viewer, attacker_host, recorder, page)
    assert tracepond_spans(store.path) == 7  # nothing was written by the attack


def attack(viewer: str, attacker_host: str, recorder: Recorder, page: Any) -> None:
    import http.server

    body = ATTACK_PAGE.format(viewer=viewer).encode()

    class Attacker(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://{attacker_host}:{attacker.server_address[1]}/")
        deadline = time.monotonic() + 15
        wanted = {"/api/sql.csv", "/api/traces", "/api/sql", "/v1/traces"}
        while not wanted <= {path for path, _ in recorder.seen}:
            assert time.monotonic() < deadline, recorder.seen
            time.sleep(0.05)
        assert all(status == 403 for _, status in recorder.seen), recorder.seen
        # and the viewer's own pages still work in the same browser
        recorder.seen.clear()
        page.goto(viewer + "/#/traces")
        page.wait_for_selector("table.traces tbody tr.row")
        page.goto(viewer + "/#/sql")
        page.wait_for_selector("table.sql tbody tr")
        assert recorder.seen and all(status == 200 for _, status in recorder.seen), recorder.seen
    finally:
        attacker.shutdown()
        attacker.server_close()


def tracepond_spans(path: str) -> int:
    from tracepond.store.query import sql

    return int(sql("SELECT count(*) FROM spans", store=path).fetchall()[0][0])
