"""Numbers as people read them: costs in significant digits, plurals, `print(trace)` as a tree,
and failed steps visible wherever a trace is shown outside the viewer."""

from __future__ import annotations

import pytest

from tests.viewer.conftest import SampleStore
from tracepond.display.notebook import render_traces_html
from tracepond.display.numbers import format_cost, format_duration, plural
from tracepond.store.query import get_trace, search_traces


@pytest.mark.parametrize(
    "usd,shown",
    [
        (0.00002, "$0.000020"),
        (0.0000213, "$0.000021"),
        (0.0000011, "$0.0000011"),
        (0.0032, "$0.0032"),
        (0.012, "$0.012"),
        (0.5, "$0.50"),
        (1.254, "$1.25"),
        (1234.5, "$1,234.50"),
        (0, "$0"),
        (None, ""),
    ],
)
def test_small_costs_keep_two_significant_digits(usd: float | None, shown: str) -> None:
    assert format_cost(usd) == shown


def test_plurals_and_durations() -> None:
    assert [plural(n, "trace") for n in (0, 1, 2, 1204)] == [
        "0 traces",
        "1 trace",
        "2 traces",
        "1,204 traces",
    ]
    assert plural(1, "failed step") == "1 failed step"
    assert (format_duration(None), format_duration(12.34), format_duration(1250)) == (
        "…",
        "12.3 ms",
        "1.25 s",
    )


def test_print_trace_is_a_readable_tree(sample_store: SampleStore) -> None:
    trace = get_trace(sample_store.ids["error"], store=sample_store.path)
    assert trace is not None
    lines = str(trace).splitlines()
    assert lines[0].startswith(trace.info.name or "") and trace.info.trace_id in lines[0]
    assert f"{trace.info.error_count} failed step" in lines[0]
    assert len(lines) == 1 + len(trace.spans)  # one line per span
    depths = [len(line) - len(line.lstrip(" ")) for line in lines[1:]]
    assert depths[0] == 0 and max(depths) > 0  # children are indented under their parents
    assert any("ERROR" in line and "rate limited" in line for line in lines[1:])
    assert repr(trace).startswith("Trace(")  # the repr stays one line


def test_the_notebook_list_counts_traces_in_words(sample_store: SampleStore) -> None:
    one = search_traces(max_results=1, store=sample_store.path)
    assert "1 traces" not in render_traces_html(one)
