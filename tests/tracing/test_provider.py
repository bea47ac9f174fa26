"""tracepond's own provider: nesting under the app's spans, sampling, processors, exit and fork."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

import tracepond
from tracepond.tracing import provider


@tracepond.trace
def answer(question: str) -> str:
    with tracepond.start_span("retrieve"):
        pass
    return question.upper()


def app_tracer(sampler: object = ALWAYS_ON) -> tuple[otel_trace.Tracer, InMemorySpanExporter]:
    """A web app's own SDK provider (not the global one, which a test process can set once)."""
    exporter = InMemorySpanExporter()
    app_provider = TracerProvider(sampler=sampler, shutdown_on_exit=False)  # type: ignore[arg-type]
    app_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return app_provider.get_tracer("webapp"), exporter


def test_spans_nest_under_the_apps_current_span(spans: InMemorySpanExporter) -> None:
    tracer, app_exporter = app_tracer()
    with tracer.start_as_current_span("GET /ask") as request:
        assert answer("hi") == "HI"
        assert tracepond.get_current_trace_id() == format(
            request.get_span_context().trace_id, "032x"
        )
    (request_span,) = app_exporter.get_finished_spans()
    ours = {s.name: s for s in spans.get_finished_spans()}
    assert set(ours) == {"answer", "retrieve"}  # the app's span is not ours to export
    assert ours["answer"].context.trace_id == request_span.context.trace_id
    assert ours["answer"].parent.span_id == request_span.context.span_id
    assert ours["retrieve"].parent.span_id == ours["answer"].context.span_id


def test_tracepond_never_sets_the_global_provider(spans: InMemorySpanExporter) -> None:
    before = otel_trace.get_tracer_provider()
    answer("x")
    assert otel_trace.get_tracer_provider() is before
    assert provider.get_tracer() is not None


def test_sample_rate_zero_records_nothing(spans: InMemorySpanExporter) -> None:
    tracepond.configure(sample_rate=0.0)
    assert answer("q") == "Q"
    assert spans.get_finished_spans() == ()


def test_sampling_is_decided_per_trace(spans: InMemorySpanExporter) -> None:
    tracepond.configure(sample_rate=0.5)
    for i in range(400):
        answer(str(i))
    finished = spans.get_finished_spans()
    roots = [s for s in finished if s.name == "answer"]
    assert 120 <= len(roots) <= 280  # binomial(400, 0.5): far outside 6 sigma otherwise
    # children follow their root: every kept trace is complete, none is half recorded
    kept_traces = {s.context.trace_id for s in roots}
    children = [s for s in finished if s.name == "retrieve"]
    assert {s.context.trace_id for s in children} == kept_traces
    assert len(children) == len(roots)


def test_children_follow_the_apps_sampling_decision(spans: InMemorySpanExporter) -> None:
    tracepond.configure(sample_rate=0.0)  # our own roots would be dropped...
    sampled_in, _ = app_tracer(ALWAYS_ON)
    with sampled_in.start_as_current_span("request"):
        answer("kept")  # ...but under a sampled parent they are kept
    sampled_out, _ = app_tracer(ALWAYS_OFF)
    tracepond.configure(sample_rate=1.0)
    with sampled_out.start_as_current_span("request"):
        answer("dropped")
    names = [s.name for s in spans.get_finished_spans()]
    assert names == ["retrieve", "answer"]


def test_add_and_remove_span_processor(spans: InMemorySpanExporter) -> None:
    extra = InMemorySpanExporter()
    processor = SimpleSpanProcessor(extra)
    provider.add_span_processor(processor)
    assert processor in provider.span_processors()
    answer("one")
    provider.remove_span_processor(processor)
    answer("two")
    assert len(extra.get_finished_spans()) == 2
    assert len(spans.get_finished_spans()) == 4


def test_added_processors_survive_configure(spans: InMemorySpanExporter) -> None:
    tracepond.configure(sample_rate=1.0, max_value_bytes=1024)
    answer("after")
    assert len(spans.get_finished_spans()) == 2


class Exploding(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("processor bug")


def test_faulty_processor_never_breaks_the_app(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TRACEPOND_RAISE_INTERNAL_ERRORS", "0")  # as in an application
    broken = Exploding()
    provider.add_span_processor(broken)
    provider.add_span_processor(SimpleSpanProcessor(after := InMemorySpanExporter()))
    with caplog.at_level(logging.WARNING, logger="tracepond"):
        assert answer("still works") == "STILL WORKS"
    assert "your code is still running" in caplog.text
    assert len(after.get_finished_spans()) == 2  # processors after the broken one still fed


def test_faulty_processor_fails_tracepond_tests(spans: InMemorySpanExporter) -> None:
    provider.add_span_processor(Exploding())
    with pytest.raises(RuntimeError, match="processor bug"):
        answer("x")


def test_flush_returns_true_when_everything_is_written(spans: InMemorySpanExporter) -> None:
    answer("x")
    assert tracepond.flush(timeout_s=5) is True


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEPOND_", "OTEL_"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        cwd=tmp_path,
    )


EXPORT_TO_FILE = """
import json, sys
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

class FileExporter(SpanExporter):
    def __init__(self, path):
        self.path = path
    def export(self, spans):
        with open(self.path, "a") as out:
            for span in spans:
                out.write(json.dumps({"name": span.name, "pid": __import__("os").getpid(),
                    "trace_id": format(span.context.trace_id, "032x"),
                    "parent": format(span.parent.span_id, "016x") if span.parent else None,
                    "span_id": format(span.context.span_id, "016x")}) + "\\n")
        return SpanExportResult.SUCCESS
"""


def test_clean_exit_flushes_pending_spans(tmp_path: Path) -> None:
    result = run_python(
        EXPORT_TO_FILE
        + """
import tracepond
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from tracepond.tracing import provider
tracepond.configure(store=None)
# a long delay: only the exit flush can write these spans
provider.add_span_processor(BatchSpanProcessor(FileExporter("spans.jsonl"),
                                               schedule_delay_millis=600_000))
@tracepond.trace
def work(i):
    return i
for i in range(5):
    work(i)
""",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "spans.jsonl").read_text().splitlines()
    assert len(lines) == 5


def test_use_global_provider_joins_the_apps_provider(tmp_path: Path) -> None:
    result = run_python(
        EXPORT_TO_FILE
        + """
import tracepond
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from tracepond.tracing import provider

app_provider = TracerProvider()
app_provider.add_span_processor(SimpleSpanProcessor(FileExporter("app.jsonl")))
trace.set_tracer_provider(app_provider)
import logging
logging.basicConfig(filename="log.txt")
tracepond.configure(store=None, use_global_provider=True, sample_rate=0.5)
provider.add_span_processor(SimpleSpanProcessor(FileExporter("ours.jsonl")))
app_tracer = trace.get_tracer("webapp")

@tracepond.trace
def answer():
    return 1

with app_tracer.start_as_current_span("request"):
    answer()
tracepond.configure(use_global_provider=False)  # the app's spans stop reaching tracepond
with app_tracer.start_as_current_span("request-after"):
    answer()
""",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    app = [json.loads(line) for line in (tmp_path / "app.jsonl").read_text().splitlines()]
    ours = [json.loads(line) for line in (tmp_path / "ours.jsonl").read_text().splitlines()]
    assert [s["name"] for s in app] == ["answer", "request", "request-after"]
    assert [s["name"] for s in ours] == ["answer", "request", "answer"]
    assert ours[0]["parent"] == ours[1]["span_id"] and ours[0]["trace_id"] == ours[1]["trace_id"]
    assert ours[2]["parent"] == app[2]["span_id"]  # own provider again, still nested
    assert "sample_rate=0.5 is not applied" in (tmp_path / "log.txt").read_text()


def test_forked_child_gets_fresh_processors(tmp_path: Path) -> None:
    """After fork the child drops the parent's exporters (their threads did not survive) and
    builds its own on first use; both processes' spans reach the store."""
    result = run_python(
        EXPORT_TO_FILE
        + """
import os
import tracepond
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from tracepond.tracing import provider
tracepond.configure(store="forked.duckdb")
added = SimpleSpanProcessor(FileExporter("spans.jsonl"))
provider.add_span_processor(added)
provider.get_tracer()
(parent_store,) = [p for p in provider.span_processors() if p is not added]

@tracepond.trace
def work(who):
    return os.getpid()

pid = os.fork()
if pid == 0:
    assert provider.span_processors() == (added,)  # the parent's store processor is gone
    work("child")  # first use builds a fresh one
    (child_store,) = [p for p in provider.span_processors() if p is not added]
    assert child_store is not parent_store
    assert tracepond.flush(timeout_s=30)
    os._exit(0)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0
work("parent")
""",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    pids = {json.loads(line)["pid"] for line in (tmp_path / "spans.jsonl").read_text().splitlines()}
    assert len(pids) == 2  # one span from the child, one from the parent
    rows = tracepond.sql(
        "SELECT inputs FROM spans ORDER BY inputs", store=str(tmp_path / "forked.duckdb")
    ).fetchall()
    assert rows == [('{"who":"child"}',), ('{"who":"parent"}',)]
