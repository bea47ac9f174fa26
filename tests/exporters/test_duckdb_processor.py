"""The DuckDB span processor's faults: what the app sees (nothing) and what survives."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

import tracepond
from tests.store.conftest import file_digest, make_pipeline
from tracepond.store.connection import _path_lock


def test_a_store_replaced_by_another_file_drops_spans_without_touching_it(
    store_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipe = make_pipeline(store_path)
    with pipe.tracer.start_as_current_span("lands"):
        pass
    pipe.flush()
    store_path.unlink()
    store_path.write_text("someone else's notes\n")
    before = file_digest(store_path)
    with caplog.at_level(logging.WARNING, logger="tracepond.store"):
        for index in range(3):
            with pipe.tracer.start_as_current_span(f"lost {index}"):
                pass  # the app carries on
        assert pipe.processor.force_flush(10_000)  # flush returns: the batch was given up
    assert pipe.processor.dropped == 3
    assert file_digest(store_path) == before
    assert any("could not write 3 spans" in r.getMessage() for r in caplog.records)
    pipe.provider.shutdown()


def test_a_full_queue_drops_counts_and_warns_once(
    store_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipe = make_pipeline(store_path, queue_size=10, batch_size=10)
    with caplog.at_level(logging.WARNING, logger="tracepond.store"):
        with _path_lock(str(store_path.absolute())):  # the writer waits for this process's lock
            for index in range(40):
                with pipe.tracer.start_as_current_span(f"s{index}"):
                    pass
        pipe.flush()
    warnings = [r for r in caplog.records if "queue" in r.getMessage()]
    assert len(warnings) == 1
    stored = tracepond.sql("SELECT count(*) FROM spans", store=str(store_path)).fetchall()[0][0]
    assert stored + pipe.processor.dropped == 40 and pipe.processor.dropped >= 20
    pipe.provider.shutdown()


def test_shutdown_writes_what_is_queued_and_then_ignores_new_spans(store_path: Path) -> None:
    pipe = make_pipeline(store_path)  # flush interval 60 s: only shutdown writes
    for index in range(5):
        with pipe.tracer.start_as_current_span(f"s{index}"):
            pass
    pipe.processor.shutdown()
    with pipe.tracer.start_as_current_span("after shutdown"):
        pass
    pipe.processor.shutdown()  # idempotent
    assert tracepond.sql("SELECT count(*) FROM spans", store=str(store_path)).fetchall() == [(5,)]
    assert pipe.processor.written == 5


def test_force_flush_gives_up_at_its_timeout_while_the_store_is_busy(store_path: Path) -> None:
    pipe = make_pipeline(store_path, flush_interval_s=0.05)
    lock = _path_lock(str(store_path.absolute()))
    with lock:
        with pipe.tracer.start_as_current_span("waits"):
            pass
        started = time.monotonic()
        assert not pipe.processor.force_flush(300)
        assert time.monotonic() - started < 30  # it returned (a sanity bound, not a benchmark)
    pipe.flush()
    assert tracepond.sql("SELECT name FROM spans", store=str(store_path)).fetchall() == [("waits",)]
    pipe.provider.shutdown()


DISK_FULL_CHILD = """
import resource, signal, sys
import tracepond

store = sys.argv[1]
tracepond.configure(store=store, flush_interval_s=0.05, batch_size=5)
with tracepond.start_span("before the disk filled"):
    pass
assert tracepond.flush(timeout_s=30)
# The disk fills: the store file may not grow past its size now (EFBIG, as ENOSPC would).
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
size = __import__("os").path.getsize(store)
resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))
for index in range(20):
    with tracepond.start_span(f"lost {index}") as span:
        span.set_outputs("x" * 200_000)  # each batch needs new blocks of the file
tracepond.flush(timeout_s=30)
# Room again: the next write also records the drops.
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
with tracepond.start_span("after there was room"):
    pass
assert tracepond.flush(timeout_s=30)
print("done", flush=True)
"""


def test_a_full_disk_is_counted_in_doctors_dropped_spans(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tracepond.cli.doctor import diagnose

    store = str(tmp_path / "full.duckdb")
    done = subprocess.run(
        [sys.executable, "-c", DISK_FULL_CHILD, store], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr  # the app carried on; the writer said why, once
    assert done.stderr.count("is full") == 1, done.stderr
    names = {row[0] for row in tracepond.sql("SELECT name FROM spans", store=store).fetchall()}
    assert {"before the disk filled", "after there was room"} <= names  # nothing else was lost
    lost = sum(name.startswith("lost ") for name in names)
    report = diagnose(store)
    assert report["dropped_spans"].get("duckdb", 0) == 20 - lost > 0
