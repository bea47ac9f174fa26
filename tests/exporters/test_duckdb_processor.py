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
