"""start_span, LiveSpan, current span/trace and update_current_trace, asserted on real SDK spans."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracepond
from tracepond.conventions import attributes as attr
from tracepond.tracing.context import (
    reset_active_model_id,
    reset_active_run,
    set_active_model_id,
    set_active_run,
)

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_start_span_records_inputs_outputs_and_ok(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("retrieve", span_type="RETRIEVER", inputs={"query": "q"}) as span:
        span.set_outputs(["doc1", "doc2"])
        span.set_attribute("k", 3)
        span.set_attributes({"index": "docs", "weights": [0.5, 0.25]})
    (recorded,) = spans.get_finished_spans()
    assert recorded.name == "retrieve"
    assert recorded.status.status_code is StatusCode.OK
    assert recorded.attributes[attr.SPAN_TYPE] == "RETRIEVER"
    assert json.loads(recorded.attributes[attr.INPUTS]) == {"query": "q"}
    assert json.loads(recorded.attributes[attr.OUTPUTS]) == ["doc1", "doc2"]
    assert recorded.attributes["k"] == 3
    assert recorded.attributes["index"] == "docs"
    assert tuple(recorded.attributes["weights"]) == (0.5, 0.25)


def test_ids_are_lowercase_hex(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("outer") as span:
        assert HEX32.match(span.trace_id) and HEX16.match(span.span_id)
        assert tracepond.get_current_trace_id() == span.trace_id
        current = tracepond.get_current_span()
        assert current is not None and current.span_id == span.span_id
    (recorded,) = spans.get_finished_spans()
    assert format(recorded.context.trace_id, "032x") == span.trace_id


def test_outside_a_trace_there_is_no_current_trace(spans: InMemorySpanExporter) -> None:
    assert tracepond.get_current_trace_id() is None
    assert tracepond.get_current_span() is None


def test_nesting_gives_parents_and_one_trace(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("root") as root:
        with tracepond.start_span("child") as child, tracepond.start_span("grandchild"):
            pass
        with tracepond.start_span("sibling"):
            pass
    recorded = by_name(spans)
    assert {format(s.context.trace_id, "032x") for s in recorded.values()} == {root.trace_id}
    assert recorded["root"].parent is None
    assert recorded["child"].parent.span_id == recorded["root"].context.span_id
    assert recorded["grandchild"].parent.span_id == recorded["child"].context.span_id
    assert recorded["sibling"].parent.span_id == recorded["root"].context.span_id
    assert child.trace_id == root.trace_id
    assert tracepond.get_current_span() is None  # context restored after the blocks


def test_exception_is_recorded_and_reraised_unchanged(spans: InMemorySpanExporter) -> None:
    error = KeyError("missing")
    with pytest.raises(KeyError) as raised, tracepond.start_span("lookup"):
        raise error
    assert raised.value is error
    (recorded,) = spans.get_finished_spans()
    assert recorded.status.status_code is StatusCode.ERROR
    assert recorded.status.description == "KeyError: 'missing'"
    assert recorded.attributes[attr.ERROR_TYPE] == "KeyError"
    (event,) = recorded.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "KeyError"
    assert event.attributes["exception.message"] == "'missing'"
    assert "raise error" in event.attributes["exception.stacktrace"]
    assert "Traceback" in event.attributes["exception.stacktrace"]


def test_error_in_child_marks_only_the_child(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("root"):
        try:
            with tracepond.start_span("child"):
                raise ValueError("bad")
        except ValueError:
            pass
    recorded = by_name(spans)
    assert recorded["child"].status.status_code is StatusCode.ERROR
    assert recorded["root"].status.status_code is StatusCode.OK


def test_set_status_and_record_exception_by_hand(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("manual") as span:
        span.record_exception(RuntimeError("handled"))
    with tracepond.start_span("flagged") as span:
        span.set_status("ERROR", "quality too low")
    with tracepond.start_span("fine") as span:
        span.set_status("ok")
        with pytest.raises(ValueError, match="'OK' or 'ERROR'"):
            span.set_status("MAYBE")
    recorded = by_name(spans)
    assert recorded["manual"].status.status_code is StatusCode.ERROR
    assert recorded["manual"].events[0].attributes["exception.message"] == "handled"
    assert recorded["flagged"].status.status_code is StatusCode.ERROR
    assert recorded["flagged"].status.description == "quality too low"
    assert recorded["fine"].status.status_code is StatusCode.OK


def test_attribute_values_are_converted_and_secrets_redacted(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("s", attributes={"api_key": "sk-abcdefghijklmnopqrstuvwx"}) as span:
        span.set_attribute("config", {"model": "m", "password": "hunter2"})
        span.set_attribute("nothing", None)
        span.set_attribute("Authorization", "Bearer abc")
        span.set_attribute("max_tokens", 256)
        span.set_attribute("mixed", [1, "a"])
    (recorded,) = spans.get_finished_spans()
    assert recorded.attributes["api_key"] == "[REDACTED]"
    assert json.loads(recorded.attributes["config"]) == {"model": "m", "password": "[REDACTED]"}
    assert "nothing" not in recorded.attributes
    assert recorded.attributes["Authorization"] == "[REDACTED]"
    assert recorded.attributes["max_tokens"] == 256
    assert json.loads(recorded.attributes["mixed"]) == [1, "a"]


def test_end_is_idempotent_and_ends_early(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("early") as span:
        span.end()
        span.end()
        span.set_attribute("after", 1)  # ignored on an ended span, no error
    (recorded,) = spans.get_finished_spans()
    assert "after" not in recorded.attributes


def test_span_never_ended_is_not_exported(spans: InMemorySpanExporter) -> None:
    """A span started and never ended (its ``with`` never exits) is never exported and breaks
    nothing: spans inside it and after it are recorded as usual."""

    def abandon() -> tuple[str, str]:
        forgotten = tracepond.start_span("forgotten").__enter__()  # never exited
        with tracepond.start_span("inside") as inside:
            pass
        assert inside.trace_id == forgotten.trace_id
        return forgotten.trace_id, forgotten.span_id

    trace_id, span_id = contextvars.copy_context().run(abandon)
    with tracepond.start_span("later") as later:
        pass
    recorded = by_name(spans)
    assert list(recorded) == ["inside", "later"]
    assert format(recorded["inside"].parent.span_id, "016x") == span_id
    assert later.trace_id != trace_id
    assert tracepond.flush(timeout_s=5)


def test_capture_content_off_keeps_inputs_and_outputs_out(spans: InMemorySpanExporter) -> None:
    tracepond.configure(capture_content=False)
    with tracepond.start_span("s", inputs={"q": "secret prompt"}) as span:
        span.set_outputs("answer")
        span.set_attribute("k", 1)
    (recorded,) = spans.get_finished_spans()
    assert attr.INPUTS not in recorded.attributes and attr.OUTPUTS not in recorded.attributes
    assert recorded.attributes["k"] == 1


def test_value_over_the_cap_is_truncated_and_flagged(spans: InMemorySpanExporter) -> None:
    tracepond.configure(max_value_bytes=1024)
    with tracepond.start_span("big") as span:
        span.set_outputs("x" * 10_000_000)
    (recorded,) = spans.get_finished_spans()
    outputs = recorded.attributes[attr.OUTPUTS]
    assert len(outputs.encode()) <= 1024
    assert "truncated" in json.loads(outputs)
    assert recorded.attributes[attr.TRUNCATED] is True


def test_redact_hook_changes_drops_and_fails_safe(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, str]] = []

    def redact(span_name: str, kind: str, value: object) -> object:
        seen.append((span_name, kind))
        if span_name == "drop":
            return tracepond.DROP
        if span_name == "broken":
            raise RuntimeError("hook bug")
        return {"masked": True}

    tracepond.configure(redact=redact)
    with tracepond.start_span("mask", inputs={"email": "a@b.c"}) as span:
        span.set_outputs("reply")
    with tracepond.start_span("drop", inputs={"email": "a@b.c"}):
        pass
    with (
        caplog.at_level(logging.WARNING, logger="tracepond"),
        tracepond.start_span("broken", inputs={"email": "a@b.c"}),
    ):
        pass
    recorded = by_name(spans)
    assert json.loads(recorded["mask"].attributes[attr.INPUTS]) == {"masked": True}
    assert json.loads(recorded["mask"].attributes[attr.OUTPUTS]) == {"masked": True}
    assert attr.INPUTS not in recorded["drop"].attributes
    assert recorded["drop"].attributes[attr.CONTENT_DROPPED] is True
    assert attr.INPUTS not in recorded["broken"].attributes  # never stored unredacted
    assert recorded["broken"].attributes[attr.CONTENT_DROPPED] is True
    assert "redact hook raised" in caplog.text
    assert ("mask", "inputs") in seen and ("mask", "outputs") in seen


def test_active_run_and_model_are_recorded(spans: InMemorySpanExporter) -> None:
    run_token = set_active_run("run-1", "exp-1")
    model_token = set_active_model_id("m-1")
    try:
        with tracepond.start_span("linked"):
            pass
    finally:
        reset_active_model_id(model_token)
        reset_active_run(run_token)
    with tracepond.start_span("unlinked"):
        pass
    recorded = by_name(spans)
    assert recorded["linked"].attributes[attr.RUN_ID] == "run-1"
    assert recorded["linked"].attributes[attr.EXPERIMENT_ID] == "exp-1"
    assert recorded["linked"].attributes[attr.MODEL_ID] == "m-1"
    assert attr.RUN_ID not in recorded["unlinked"].attributes


def test_update_current_trace_writes_current_and_local_root(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("root"):
        tracepond.update_current_trace(tags={"env": "prod"}, session_id="s1")
        with tracepond.start_span("child"):
            tracepond.update_current_trace(
                tags={"release": "7", "n": 3}, user_id="u1", metadata={"ab": {"arm": "b"}}
            )
    recorded = by_name(spans)
    root, child = recorded["root"].attributes, recorded["child"].attributes
    assert json.loads(root[attr.TAGS]) == {"env": "prod", "release": "7", "n": "3"}
    assert root[attr.SESSION_ID] == "s1" and root[attr.USER_ID] == "u1"
    assert json.loads(root[attr.METADATA]) == {"ab": {"arm": "b"}}
    assert json.loads(child[attr.TAGS]) == {"release": "7", "n": "3"}
    assert child[attr.USER_ID] == "u1"


def test_update_current_trace_later_tag_wins(spans: InMemorySpanExporter) -> None:
    with tracepond.start_span("root"):
        tracepond.update_current_trace(tags={"env": "dev"})
        tracepond.update_current_trace(tags={"env": "prod"})
    (recorded,) = spans.get_finished_spans()
    assert json.loads(recorded.attributes[attr.TAGS]) == {"env": "prod"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tags": {"ok": "1", 5: "x"}}, "tags keys must be str; got 5 (int)"),
        ({"tags": {("a",): "x"}}, "tags keys must be str; got ('a',) (tuple)"),
        ({"metadata": {1.5: "x"}}, "metadata keys must be str; got 1.5"),
        ({"tags": ["env"]}, "tags must be a dict"),
        ({"session_id": 42}, "session_id must be a str"),
        ({"user_id": "u", "tags": {None: "x"}}, "tags keys must be str; got None"),
        ({"user_id": b"u"}, "user_id must be a str"),
    ],
)
def test_update_current_trace_bad_input_changes_nothing(
    spans: InMemorySpanExporter, kwargs: dict[str, object], message: str
) -> None:
    with tracepond.start_span("root"):
        tracepond.update_current_trace(tags={"env": "prod"})
        with pytest.raises(TypeError) as raised:
            tracepond.update_current_trace(**{"session_id": "s-new", **kwargs})  # type: ignore[arg-type]
        assert message in str(raised.value)
    (recorded,) = spans.get_finished_spans()
    assert json.loads(recorded.attributes[attr.TAGS]) == {"env": "prod"}
    assert attr.SESSION_ID not in recorded.attributes
    assert attr.USER_ID not in recorded.attributes
    assert attr.METADATA not in recorded.attributes


def test_update_current_trace_outside_a_trace_warns(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tracepond"):
        tracepond.update_current_trace(tags={"env": "prod"})
    assert "outside a trace" in caplog.text
    assert spans.get_finished_spans() == ()


def test_non_string_attribute_key_is_a_clear_error(spans: InMemorySpanExporter) -> None:
    with pytest.raises(TypeError, match=r"attribute keys must be str; got 1 \(int\)"):
        tracepond.start_span("s", attributes={1: "x"})  # type: ignore[dict-item]
    with tracepond.start_span("kept") as span:
        with pytest.raises(TypeError, match="attribute keys must be str"):
            span.set_attribute(("a",), 1)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="attribute keys must be str"):
            span.set_attributes({"fine": 1, 2: "bad"})  # type: ignore[dict-item]
    (recorded,) = spans.get_finished_spans()  # the refused span was never started
    assert recorded.name == "kept" and "fine" not in recorded.attributes
    with pytest.raises(TypeError, match="attribute keys must be str"):
        tracepond.trace(attributes={None: 1})(lambda: None)  # type: ignore[dict-item]


def test_credentials_in_an_exception_never_reach_the_store(configured: object) -> None:
    """An app's own exception may quote a key; the status, the event and the stack are scrubbed."""
    key = "sk-proj-" + "a1B2c3D4" * 6

    @tracepond.trace
    def call_provider() -> None:
        raise PermissionError(f"Incorrect API key provided: {key}")

    with pytest.raises(PermissionError, match=key):  # the app still sees its own exception
        call_provider()
    tracepond.flush()
    rows = tracepond.sql(
        "SELECT s.status_message, e.attributes FROM spans s JOIN span_events e USING (span_id)"
    ).fetchall()
    assert len(rows) == 1
    assert key not in rows[0][0] and "[REDACTED]" in rows[0][0]
    assert key not in rows[0][1] and "Incorrect API key provided" in rows[0][1]
    from tracepond.config import get_settings

    store = Path(str(get_settings().store)).read_bytes()
    assert key.encode() not in store
