"""Several processes share one store: concurrent writers and a reader, a SIGKILLed writer, a store
locked by another process. Each child is a real Python process (tests/store/store_child.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tracepond

CHILD = str(Path(__file__).with_name("store_child.py"))


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )


def _finish(process: subprocess.Popen[str], timeout: float = 240) -> tuple[str, str]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out, err


@pytest.mark.slow
def test_three_writers_and_a_reader_lose_nothing(store_path: Path, tmp_path: Path) -> None:
    stop_file = tmp_path / "stop"
    reader = _spawn("read", str(store_path), str(stop_file))
    writers = [_spawn("write", str(store_path), "200", f"w{n}") for n in range(3)]
    outputs = [_finish(writer) for writer in writers]
    stop_file.touch()
    reader_out, reader_err = _finish(reader)

    for out, err in outputs:
        assert out.strip() == "wrote 200"
        assert err == ""  # no error or warning reached any app
    assert reader_err == ""
    assert int(reader_out.split()[1]) > 0  # the reader really read while they wrote

    store = str(store_path)
    assert tracepond.sql(
        "SELECT count(*), sum(span_count) FROM traces", store=store
    ).fetchall() == [(600, 1800)]
    assert tracepond.sql(
        "SELECT count(*) FROM traces WHERE in_progress OR status != 'OK' OR span_count != 3 "
        "OR input_tokens != 3",
        store=store,
    ).fetchall() == [(0,)]
    per_writer = tracepond.sql(
        "SELECT split_part(name, '-', 1) AS w, count(DISTINCT name) FROM traces GROUP BY w ORDER BY w",
        store=store,
    ).fetchall()
    assert per_writer == [("w0", 200), ("w1", 200), ("w2", 200)]
    assert tracepond.sql("SELECT count(*) FROM spans", store=store).fetchall() == [(1800,)]


@pytest.mark.slow
def test_a_sigkilled_writer_leaves_every_acknowledged_batch(store_path: Path) -> None:
    child = _spawn("ack", str(store_path))
    assert child.stdout is not None
    acked = 0
    while acked < 200:
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else ""
        acked = int(line.split()[1])
    time.sleep(0.05)  # let it get into the middle of further writes
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    for line in child.stdout:  # acknowledgements printed before the kill landed
        acked = int(line.split()[1])
    child.stdout.close()
    if child.stderr is not None:
        child.stderr.close()

    store = str(store_path)
    ((traces, spans),) = tracepond.sql(
        "SELECT count(*), sum(span_count) FROM traces", store=store
    ).fetchall()
    assert traces >= acked
    assert spans == tracepond.sql("SELECT count(*) FROM spans", store=store).fetchall()[0][0]
    # Every trace row agrees with its spans: no half-written batch.
    assert tracepond.sql(
        "SELECT count(*) FROM traces t WHERE span_count != "
        "(SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id)",
        store=store,
    ).fetchall() == [(0,)]


@pytest.mark.slow
def test_a_store_locked_by_another_process_delays_writes_but_never_the_app(
    store_path: Path,
) -> None:
    tracepond.configure(store=str(store_path), flush_interval_s=0.05, batch_size=10)
    with tracepond.start_span("before the lock"):
        pass
    assert tracepond.flush(timeout_s=10)

    holder = _spawn("hold", str(store_path), "4")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    for index in range(50):
        with tracepond.start_span(f"during the lock {index}"), tracepond.start_span("child"):
            pass
    assert holder.poll() is None  # the app finished its work while the store was still locked
    assert not tracepond.flush(timeout_s=0.2)  # not landed yet, and flush did not hang

    out, err = _finish(holder)
    assert out.strip() == "released" and err == ""
    assert tracepond.flush(timeout_s=30)
    assert tracepond.sql(
        "SELECT count(*), sum(span_count) FROM traces", store=str(store_path)
    ).fetchall() == [(51, 101)]


@pytest.mark.slow
def test_a_forked_child_writes_its_own_spans(store_path: Path) -> None:
    from tests.store.conftest import make_pipeline

    pipe = make_pipeline(store_path, flush_interval_s=0.05)
    with pipe.tracer.start_as_current_span("parent before fork"):
        pass
    pid = os.fork()
    if pid == 0:  # the child: its own queue and writer thread, the parent's spans not repeated
        code = 1
        try:
            with pipe.tracer.start_as_current_span("child"):
                pass
            code = 0 if pipe.processor.force_flush(30_000) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with pipe.tracer.start_as_current_span("parent after fork"):
        pass
    pipe.flush()
    names = tracepond.sql("SELECT name FROM traces ORDER BY name", store=str(store_path)).fetchall()
    assert names == [("child",), ("parent after fork",), ("parent before fork",)]
    pipe.provider.shutdown()


@pytest.mark.slow
def test_a_read_that_cannot_flush_first_says_it_may_be_stale(store_path: Path) -> None:
    from tracepond.errors import StaleReadWarning

    tracepond.configure(store=str(store_path), flush_interval_s=0.05, batch_size=10)
    with tracepond.start_span("before the reader"):
        pass
    assert tracepond.flush(timeout_s=10)
    reader = _spawn("hold_read", str(store_path), "12")  # another process reading, for long
    assert reader.stdout is not None and reader.stdout.readline().strip() == "holding"
    with tracepond.start_span("while it reads"):
        pass
    with pytest.warns(StaleReadWarning, match="may miss spans this process recorded"):
        rows = tracepond.sql("SELECT name FROM spans", store=str(store_path)).fetchall()
    assert rows == [("before the reader",)]  # the stale answer it warned about
    out, err = _finish(reader)
    assert out.strip() == "released" and err == ""
    assert tracepond.flush(timeout_s=30)
    names = tracepond.sql("SELECT name FROM spans ORDER BY name", store=str(store_path)).fetchall()
    assert names == [("before the reader",), ("while it reads",)]  # nothing was lost
