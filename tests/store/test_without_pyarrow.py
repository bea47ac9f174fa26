"""pyarrow is optional (the `all` extra): without it batches go through temporary tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import sys
sys.modules["pyarrow"] = None  # as if it were not installed: `import pyarrow` raises ImportError
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import tracepond
from tracepond.store import writer
assert writer.pa is None
exporter = InMemorySpanExporter()
provider = TracerProvider(shutdown_on_exit=False)
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracer = provider.get_tracer("t")
with tracer.start_as_current_span("root", attributes={"tracepond.inputs": '{"q": 1}'}):
    with tracer.start_as_current_span("llm", attributes={"gen_ai.usage.input_tokens": 4}):
        pass
    try:
        with tracer.start_as_current_span("tool"):
            raise ValueError("x")
    except ValueError:
        pass
spans = exporter.get_finished_spans()
store = sys.argv[1]
print(writer.write_spans(store, spans), writer.write_spans(store, spans))
result = tracepond.sql("SELECT name, span_count, input_tokens, inputs FROM traces", store=store)
print(result.fetchall())
print(tracepond.sql("SELECT count(*) FROM span_events", store=store).fetchall())
print(len(repr(result)) > 0, [s.name for s in tracepond.search_traces(store=store)[0].spans])
"""


@pytest.mark.slow
def test_the_store_works_without_pyarrow(store_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(store_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [
        "3 0",
        "[('root', 3, 4, '{\"q\": 1}')]",
        "[(1,)]",
        "True ['root', 'llm', 'tool']",
    ]
