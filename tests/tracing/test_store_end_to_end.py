"""Traced code all the way into the DuckDB store, read back through sql() and get_trace()."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import tracepond
import tracepond.config
import tracepond.errors
from tracepond.config import Settings
from tracepond.errors import ConfigError


@tracepond.trace(span_type="CHAIN")
def pipeline(question: str, api_key: str) -> str:
    with tracepond.start_span("retrieve", span_type="RETRIEVER", inputs={"q": question}) as span:
        span.set_outputs(["doc"])
    tracepond.update_current_trace(tags={"env": "test"}, session_id="s-1", user_id="u-1")
    return tool(question)


@tracepond.trace(span_type="TOOL")
def tool(text: str) -> str:
    return text[::-1]


def test_a_trace_lands_in_the_store(configured: Settings) -> None:
    assert pipeline("abc", api_key="sk-test-abcdefghijklmnopqrstuvwx") == "cba"
    trace_id = None
    with tracepond.start_span("probe") as probe:
        trace_id = probe.trace_id
    assert tracepond.flush(timeout_s=30)

    rows = tracepond.sql(
        "SELECT name, span_type, status, inputs FROM spans WHERE trace_id <> ? ORDER BY name",
        [trace_id],
    ).fetchall()
    assert [(name, kind, status) for name, kind, status, _ in rows] == [
        ("pipeline", "CHAIN", "OK"),
        ("retrieve", "RETRIEVER", "OK"),
        ("tool", "TOOL", "OK"),
    ]
    pipeline_inputs = json.loads(rows[0][3])
    assert pipeline_inputs == {"question": "abc", "api_key": "[REDACTED]"}
    assert "sk-test" not in json.dumps(tracepond.sql("SELECT * FROM spans").fetchall(), default=str)

    ((root_trace_id,),) = tracepond.sql(
        "SELECT trace_id FROM traces WHERE name = 'pipeline'"
    ).fetchall()
    trace = tracepond.get_trace(root_trace_id)
    assert trace is not None
    assert trace.info.status == "OK" and trace.info.span_count == 3
    assert trace.info.tags == {"env": "test"}
    assert (trace.info.session_id, trace.info.user_id) == ("s-1", "u-1")
    assert [s.name for s in trace.spans] == ["pipeline", "retrieve", "tool"]
    assert trace.info.outputs == "cba"


def test_an_error_lands_with_its_exception_event(configured: Settings) -> None:
    @tracepond.trace
    def broken() -> None:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(ZeroDivisionError):
        broken()
    assert tracepond.flush(timeout_s=30)
    ((status, message),) = tracepond.sql("SELECT status, status_message FROM spans").fetchall()
    assert status == "ERROR" and "ZeroDivisionError" in message
    ((name, attributes),) = tracepond.sql("SELECT name, attributes FROM span_events").fetchall()
    assert name == "exception"
    event = json.loads(attributes) if isinstance(attributes, str) else attributes
    assert event["exception.type"] == "ZeroDivisionError"
    assert "raise ZeroDivisionError" in event["exception.stacktrace"]


def test_ten_megabyte_output_is_stored_capped(configured: Settings) -> None:
    @tracepond.trace
    def huge() -> str:
        return "z" * 10_000_000

    huge()
    assert tracepond.flush(timeout_s=30)
    ((outputs,),) = tracepond.sql("SELECT outputs FROM spans").fetchall()
    assert len(outputs.encode()) <= configured.max_value_bytes
    assert "truncated" in outputs


def test_switching_store_flushes_pending_spans_to_the_old_one(
    configured: Settings, tmp_path: Path
) -> None:
    for i in range(50):
        tool(str(i))
    old_store = configured.store
    new_store = str(tmp_path / "second.duckdb")
    tracepond.configure(store=new_store)  # no explicit flush: configure must do it
    tool("after the switch")
    assert tracepond.flush(timeout_s=30)
    assert tracepond.sql("SELECT count(*) FROM spans", store=old_store).fetchall() == [(50,)]
    assert tracepond.sql("SELECT inputs FROM spans", store=new_store).fetchall() == [
        ('{"text":"after the switch"}',)
    ]


def test_bad_configure_keeps_writing_to_the_same_store(configured: Settings) -> None:
    tool("before")
    with pytest.raises(ConfigError):
        tracepond.configure(store=configured.store, sample_rate=3)
    tool("after")
    assert tracepond.flush(timeout_s=30)
    assert tracepond.sql("SELECT count(*) FROM spans").fetchall() == [(2,)]


def test_a_file_that_is_not_a_store_is_refused_and_untouched(
    configured: Settings, tmp_path: Path
) -> None:
    not_a_store = tmp_path / "notes.duckdb"
    not_a_store.write_text("my notes, not a database")
    with pytest.raises(tracepond.errors.StoreError):
        tracepond.configure(store=str(not_a_store))
    assert not_a_store.read_text() == "my notes, not a database"
    assert tracepond.config.get_settings().store == configured.store
    tool("still traced")
    assert tracepond.flush(timeout_s=30)
    assert tracepond.sql("SELECT count(*) FROM spans").fetchall() == [(1,)]


def test_unusable_store_from_the_environment_never_breaks_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Tracing sets itself up lazily from the environment; if the store cannot be used the app
    keeps running untraced, the file is left alone, and one warning says why."""
    not_a_store = tmp_path / "app.duckdb"
    not_a_store.write_bytes(b"\x00not duckdb\x00" * 10)
    monkeypatch.setenv("TRACEPOND_STORE", str(not_a_store))
    monkeypatch.setenv("TRACEPOND_RAISE_INTERNAL_ERRORS", "0")  # as in an application
    with caplog.at_level(logging.WARNING, logger="tracepond"):
        assert tool("abc") == "cba"
        assert tool("again") == "niaga"
    assert not_a_store.read_bytes() == b"\x00not duckdb\x00" * 10
    assert "tracing set-up" in caplog.text and "still running" in caplog.text
    assert tracepond.flush(timeout_s=5)
