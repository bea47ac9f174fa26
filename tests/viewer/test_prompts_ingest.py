"""An app that sends its spans over OTLP to `tracepond ui` still links the prompts it loaded:
the link travels as the span's `tracepond.prompts` attribute and the viewer's ingest writes it."""

from __future__ import annotations

import httpx

import tracepond
from tests.viewer.test_ingest import viewer  # noqa: F401  (the viewer served in a thread)


def test_prompts_loaded_by_an_otlp_app_link_in_the_viewers_store(
    viewer: tuple[str, str],  # noqa: F811
) -> None:
    url, store = viewer
    tracepond.register_prompt("support", "Hi {{name}}", store=store)
    tracepond.register_prompt("support", "Hello {{name}}", store=store)
    tracepond.configure(store=None, otlp_endpoint=url)  # this app keeps no store of its own
    with tracepond.start_span("answer") as span:
        prompt = tracepond.load_prompt("support", version=2, store=store)
        span.set_outputs(prompt.format(name="Ana"))
    tracepond.flush()
    links = tracepond.sql("SELECT trace_id, name, version FROM trace_prompts", store=store)
    assert links.fetchall() == [(span.trace_id, "support", 2)]
    used = httpx.get(url + "/api/prompts/support/versions/2/traces").json()["traces"]
    assert [t["trace_id"] for t in used] == [span.trace_id]
    found = tracepond.search_traces(filter="prompt.version = 2", store=store)
    assert [t.info.trace_id for t in found] == [span.trace_id]
