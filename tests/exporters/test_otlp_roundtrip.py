"""Round trip: this process exports over OTLP/HTTP, another process (`tracepond ui`, whose
OTLP/HTTP ingest writes to its store) receives; the spans arrive with the same ids, parents,
names, attributes and events. The viewer's ingest speaks OTLP/HTTP only (no gRPC), so the
round trip is over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tests.interop.receivers import free_port
from tracepond.conventions import attributes as attr
from tracepond.store.connection import open_store, read_connection

TOKEN = "roundtrip-token-0123456789abcdef"


@pytest.fixture
def viewer(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`tracepond ui` in its own process over a fresh store; yields (base URL, store path)."""
    store = str(tmp_path / "received.duckdb")
    with open_store(store):
        pass  # create the store the viewer serves
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEPOND_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "tracepond.cli", "ui", "--store", store, "--port", str(port),
         "--token", TOKEN],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"tracepond ui exited with {process.returncode}: {output}")
            try:
                httpx.get(base_url + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("tracepond ui did not start listening")
                time.sleep(0.2)
        yield base_url, store
    finally:
        process.terminate()
        process.wait(20)
        if process.stdout:
            process.stdout.close()


def stored_spans(store: str, trace_id: str) -> dict[str, dict[str, object]]:
    with read_connection(store) as conn:
        cursor = conn.execute(
            "SELECT span_id, parent_span_id, name, kind, status, status_message, "
            "attributes::VARCHAR AS attributes, inputs::VARCHAR AS inputs, "
            "outputs::VARCHAR AS outputs, service_name "
            "FROM spans WHERE trace_id = ?",
            [trace_id],
        )
        names = [d[0] for d in cursor.description]
        spans = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
        for span_id, span in spans.items():
            span["events"] = conn.execute(
                "SELECT name, attributes::VARCHAR FROM span_events "
                "WHERE trace_id = ? AND span_id = ? ORDER BY time",
                [trace_id, span_id],
            ).fetchall()
    return spans


def traced_work() -> None:
    with tracepond.start_span("agent", span_type="AGENT", inputs={"question": "refund?"}):
        tracepond.update_current_trace(tags={"team": "support"}, session_id="sess-1")
        with tracepond.start_span(
            "chat gpt-4o-mini",
            span_type="CHAT_MODEL",
            attributes={
                attr.GEN_AI_OPERATION_NAME: "chat",
                attr.GEN_AI_PROVIDER_NAME: "openai",
                attr.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                attr.GEN_AI_USAGE_INPUT_TOKENS: 21,
                attr.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
                attr.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
                "custom.ratio": 0.25,
                "custom.flag": True,
            },
        ) as chat:
            chat.set_outputs({"answer": "5 days"})
            chat.otel_span.add_event("first_token", {"latency_ms": 12.5})
        with pytest.raises(KeyError), tracepond.start_span("lookup", span_type="TOOL"):
            raise KeyError("order-42")


def test_spans_exported_over_otlp_http_arrive_in_another_process_store(
    viewer: tuple[str, str], span_exporter: InMemorySpanExporter
) -> None:
    base_url, store = viewer
    tracepond.configure(
        store=None,
        otlp_endpoint=base_url,
        otlp_headers={"authorization": f"Bearer {TOKEN}"},
        export_content=True,
        service_name="roundtrip",
    )
    traced_work()
    assert tracepond.flush(30)
    sent = {format(s.context.span_id, "016x"): s for s in span_exporter.get_finished_spans()}
    trace_id = format(next(iter(sent.values())).context.trace_id, "032x")
    deadline = time.monotonic() + 30
    while len(received := stored_spans(store, trace_id)) < len(sent):
        assert time.monotonic() < deadline, f"{len(received)} of {len(sent)} spans arrived"
        time.sleep(0.2)
    assert set(received) == set(sent)
    for span_id, original in sent.items():
        row = received[span_id]
        parent = format(original.parent.span_id, "016x") if original.parent else None
        assert row["parent_span_id"] == parent
        assert row["name"] == original.name
        assert row["kind"] == original.kind.name
        assert row["service_name"] == "roundtrip"
        attributes = json.loads(str(row["attributes"]))
        for key, value in (original.attributes or {}).items():
            if key in (attr.INPUTS, attr.OUTPUTS):  # stored in their own columns
                assert json.loads(str(row[key.split(".")[1]])) == json.loads(str(value))
            elif isinstance(value, tuple):
                assert attributes[key] == list(value), key
            else:
                assert attributes[key] == value, key
        events = [(name, json.loads(attrs)) for name, attrs in row["events"]]
        expected_events = [(e.name, dict(e.attributes or {})) for e in original.events]
        assert events == expected_events
    lookup = next(row for row in received.values() if row["name"] == "lookup")
    assert lookup["status"] == "ERROR" and "order-42" in str(lookup["status_message"])
    assert [name for name, _ in lookup["events"]] == ["exception"]
    trace = tracepond.get_trace(trace_id, store=store)
    assert trace is not None and trace.info.session_id == "sess-1"
    assert trace.info.tags == {"team": "support"}


def test_wrong_token_is_refused_and_counted_not_raised(viewer: tuple[str, str]) -> None:
    base_url, store = viewer
    tracepond.configure(
        store=None, otlp_endpoint=base_url, otlp_headers={"authorization": "Bearer nope"}
    )
    with tracepond.start_span("refused"):
        pass
    assert not tracepond.flush(5)  # the collector refuses: flush says so instead of hanging
    with read_connection(store) as conn:
        assert conn.execute("SELECT count(*) FROM spans").fetchone() == (0,)
