"""The store through tracepond's public API: start_span / @trace in, sql / search / get out."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracepond
from tracepond.config import Settings


def test_spans_from_start_span_land_with_their_trace(
    configured: Settings, store_path: Path
) -> None:
    with tracepond.start_span("answer", span_type="CHAIN", inputs={"question": "why?"}) as root:
        tracepond.update_current_trace(tags={"env": "test"}, session_id="s-1", user_id="u-1")
        trace_id = tracepond.get_current_trace_id()
        with tracepond.start_span("retrieve", span_type="RETRIEVER", inputs={"k": 3}) as step:
            step.set_outputs(["doc-1", "doc-2"])
        root.set_outputs({"answer": "because"})
    assert tracepond.flush(timeout_s=10)

    rows = tracepond.sql(
        "SELECT trace_id, name, status, span_count, session_id, user_id, tags->>'env', inputs, "
        "outputs, in_progress FROM traces"
    ).fetchall()
    assert rows == [
        (
            trace_id,
            "answer",
            "OK",
            2,
            "s-1",
            "u-1",
            "test",
            '{"question":"why?"}',
            '{"answer":"because"}',
            False,
        )
    ]
    found = tracepond.get_trace(trace_id)
    assert found is not None
    assert [(s.name, s.span_type, s.status) for s in found.spans] == [
        ("answer", "CHAIN", "OK"),
        ("retrieve", "RETRIEVER", "OK"),
    ]
    assert found.spans[1].inputs == {"k": 3}
    assert found.spans[1].outputs == ["doc-1", "doc-2"]
    assert found.info.tags == {"env": "test"}
    assert [t.trace_id for t in tracepond.search_traces("span.span_type = 'RETRIEVER'")] == [
        trace_id
    ]


def test_an_exception_is_an_error_trace_with_an_event(configured: Settings) -> None:
    @tracepond.trace
    def fails(x: int) -> int:
        raise KeyError(x)

    with pytest.raises(KeyError):
        fails(7)
    assert tracepond.flush(timeout_s=10)
    (trace,) = tracepond.search_traces("status = 'ERROR'")
    assert trace.info.name == "fails" and trace.info.error_count == 1
    (event,) = trace.spans[0].events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "KeyError"


def test_a_span_still_open_is_visible_as_in_progress(configured: Settings) -> None:
    with tracepond.start_span("long job"):
        with tracepond.start_span("first step"):
            pass
        assert tracepond.flush(timeout_s=10)
        (running,) = tracepond.search_traces("in_progress = TRUE")
        assert running.info.name == "long job" and running.info.span_count == 1
    assert tracepond.flush(timeout_s=10)
    assert tracepond.search_traces("in_progress = TRUE") == []
    (done,) = tracepond.search_traces()
    assert (done.info.span_count, done.info.status) == (2, "OK")


def test_queries_see_this_processs_spans_without_a_flush(configured: Settings) -> None:
    with tracepond.start_span("just now"):
        trace_id = tracepond.get_current_trace_id()
    found = tracepond.get_trace(str(trace_id))  # no tracepond.flush(): reads flush first
    assert found is not None and found.info.name == "just now"
    assert tracepond.sql("SELECT count(*) FROM spans").fetchall() == [(1,)]
