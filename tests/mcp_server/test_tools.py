"""The MCP tools' answers sized for a model's context: a big trace is cut, and says so."""

from __future__ import annotations

from pathlib import Path

import tracepond
from tracepond.mcp import tools


def test_a_trace_with_more_spans_than_the_cap_says_how_many_were_left_out(
    store_path: Path,
) -> None:
    store = str(store_path)
    tracepond.configure(store=store)
    with tracepond.start_span("big job") as root:
        for i in range(tools.TRACE_MAX_SPANS + 20):
            with tracepond.start_span(f"step {i}") as step:
                step.set_attribute("note", "n" * (tools.VALUE_BUDGET + 10) if i == 0 else "short")
    tracepond.flush()
    answer = tools.get_trace(store, root.trace_id)
    assert len(answer["spans"]) == tools.TRACE_MAX_SPANS
    assert answer["spans"][0]["name"] == "big job" and answer["spans"][1]["depth"] == 1
    left_out = [line for line in answer["cut"] if "spans left out" in line]
    assert left_out == [
        f"21 of {tools.TRACE_MAX_SPANS + 21} spans left out (the first {tools.TRACE_MAX_SPANS} "
        f"in tree order are shown); read the rest with sql: "
        f"SELECT * FROM spans WHERE trace_id = '{root.trace_id}'"
    ]
    assert any("attribute note" in line for line in answer["cut"])
    assert answer["spans"][1]["attributes"]["note"].endswith(" …[cut]")
