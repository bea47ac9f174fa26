"""The DuckDB span processor: finished spans reach the local store in batches, off the app's thread.

``on_end`` puts the span on the shared bounded batch queue (:mod:`tracepond.batching`) and
returns; a full queue drops the span and counts it (a warning is logged once per episode).
``on_start`` of a root span queues a small record so the trace shows as in progress before it
ends. The queue's worker hands over batches of at most ``batch_size`` items, every
``flush_interval_s`` or as soon as a batch is full; each batch is converted to Arrow before the
store is opened, then written in one transaction through :mod:`tracepond.store.writer` on a
connection held only for that write, so other processes get their turn. While another process
holds the file the batch is retried every interval, and new spans wait in the bounded queue;
spans that find it full are dropped and counted, and the count goes to the store's
``writer_stats`` table for ``tracepond doctor``.

``force_flush`` waits for what was queued before it; ``shutdown`` (also run at interpreter exit)
writes what is left, waiting at most ``shutdown_timeout_s``. Nothing here raises into the app:
failures go to :func:`tracepond.errors.log_internal_error`.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from tracepond.batching import BatchQueue
from tracepond.errors import StoreError, StoreLockedError, log_internal_error
from tracepond.store.connection import (
    DEFAULT_TIMEOUT_S,
    check_store,
    open_store,
    register_writer,
)
from tracepond.store.rows import SpanRecord, TraceStart, span_record, trace_start
from tracepond.store.writer import PreparedBatch, prepare_batch, write_prepared
from tracepond.store.writer import write_spans as _write_finished
from tracepond.tracing.suppress import suppressed

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span

logger = logging.getLogger("tracepond.store")

_DEFAULT_QUEUE_SIZE = 20_000
_DEFAULT_BATCH_SIZE = 2_000
_DEFAULT_FLUSH_INTERVAL_S = 1.0
_OPEN_ATTEMPT_S = 0.5  # one try at the lock; the batch stays queued when it fails
_GAP_S = (0.02, 0.05)  # a pause after a refused open, so other processes get their turn
_LIVE_LIMIT = 1_000_000  # span ids remembered for root detection (spans never ended leak here)
SOURCE = "duckdb"
# How a full disk (or a file size limit) shows: errno in an OSError, text in DuckDB's IOException.
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
_DISK_FULL_TEXT = ("no space left", "disk is full", "file too large", "quota exceeded")


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in _DISK_FULL_ERRNOS:
        return True
    text = str(error).lower()
    return isinstance(error, (OSError, duckdb.Error)) and any(m in text for m in _DISK_FULL_TEXT)


def write_spans(
    store_path: str, spans: Sequence[ReadableSpan], *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> int:
    """Write spans that finished elsewhere (OTLP ingest, ``tracepond import``) in one
    transaction, converted as the processor converts them; returns how many were new."""
    with suppressed():
        return _write_finished(store_path, spans, timeout_s=timeout_s)


class DuckDBSpanProcessor(SpanProcessor):
    """Writes tracepond's spans to the DuckDB store at ``store_path``.

    Raises StoreError at construction when the path cannot hold a store (missing directory, a
    file that is not a tracepond store); never raises afterwards.
    """

    def __init__(
        self,
        store_path: str,
        settings: Any = None,
        *,
        shutdown_timeout_s: float = 20.0,
    ) -> None:
        check_store(str(store_path))
        self.store_path = str(store_path)
        queue_size = max(1, int(getattr(settings, "queue_size", _DEFAULT_QUEUE_SIZE)))
        self._interval = float(getattr(settings, "flush_interval_s", _DEFAULT_FLUSH_INTERVAL_S))
        self._shutdown_timeout_s = shutdown_timeout_s
        self._queue: BatchQueue[ReadableSpan | TraceStart] = BatchQueue(
            "duckdb-writer",
            self._deliver,
            capacity=queue_size,
            batch_size=max(1, int(getattr(settings, "batch_size", _DEFAULT_BATCH_SIZE))),
            interval_s=self._interval,
            full_warning=(
                f"tracepond: the span queue for {self.store_path} is full ({queue_size} spans); "
                "new spans are dropped and counted until the writer catches up (see `tracepond "
                "doctor`, or raise TRACEPOND_QUEUE_SIZE)"
            ),
            after_cycle=self._record_drops,
        )
        self._init_state()
        register_writer(self.store_path, self)  # reads of this store flush us first
        weak_self = weakref.WeakMethod(self._init_state)
        os.register_at_fork(after_in_child=lambda: (m := weak_self()) and m())
        weak_shutdown = weakref.WeakMethod(self.shutdown)
        atexit.register(lambda: (m := weak_shutdown()) and m())

    def _init_state(self) -> None:
        # Also the fork hook: the parent's spans belong to the parent (the queue resets itself).
        self._live: set[int] = set()
        self._roots: set[int] = set()
        self._drop_lock = threading.Lock()
        self._dropped_total = 0
        self._dropped_unrecorded = 0
        self._closed = False
        self._stop_at: float | None = None
        self._abandoned = False
        self._conn: Any = None  # the writer's open connection, to interrupt at a late exit
        self._written = 0
        self._disk_full_said = False

    # --- the app's side: O(1), never raises ----------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            span_id = span.context.span_id
            parent = span.parent
            is_root = parent is None or (not parent.is_remote and parent.span_id not in self._live)
            if len(self._live) >= _LIVE_LIMIT:
                self._live.clear()
            self._live.add(span_id)
            if is_root and not self._closed:
                self._roots.add(span_id)
                self._queue.put(trace_start(span))  # only a hint: not counted when refused
        except Exception:
            log_internal_error("DuckDBSpanProcessor.on_start")

    def on_end(self, span: ReadableSpan) -> None:
        try:
            context = span.context
            if context is None:
                return
            self._live.discard(context.span_id)
            if self._closed or not context.trace_flags.sampled:
                self._roots.discard(context.span_id)
                return
            if not self._queue.put(span):
                self._roots.discard(context.span_id)
                self._count_drop(1)
        except Exception:
            log_internal_error("DuckDBSpanProcessor.on_end")

    def _count_drop(self, count: int, *, recordable: bool = True) -> None:
        with self._drop_lock:
            self._dropped_total += count
            if recordable:
                self._dropped_unrecorded += count

    @property
    def dropped(self) -> int:
        """Spans dropped by this processor since it started (queue full or unwritable)."""
        return self._dropped_total

    @property
    def written(self) -> int:
        """Spans this processor has written to the store."""
        return self._written

    # --- flushing and shutdown -------------------------------------------------------------

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Write everything queued so far; False when it did not land within the timeout."""
        return self._queue.flush(max(timeout_millis, 0) / 1000.0)

    def shutdown(self) -> None:
        """Stop accepting spans, write what is queued (waiting at most shutdown_timeout_s)."""
        if self._closed:
            return
        self._closed = True
        self._stop_at = time.monotonic() + self._shutdown_timeout_s
        if not self._queue.stop(self._shutdown_timeout_s + 1.0):
            # still waiting or writing: stop it before the exit does
            self._abandoned = True
            conn = self._conn
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.interrupt()
            self._queue.join(2.0)
        left = sum(1 for item in self._queue.take_left() if isinstance(item, ReadableSpan))
        self._abandoned = True  # a writer still busy stops quietly; the interpreter is leaving
        if left:
            self._count_drop(left, recordable=False)
            logger.warning(
                "tracepond: %d spans were not written to %s before exit (the store stayed locked "
                "by another process)",
                left,
                self.store_path,
            )

    # --- the writer (the queue's worker thread) -------------------------------------------------

    def _deliver(self, items: list[ReadableSpan | TraceStart]) -> None:
        records: list[SpanRecord] = []
        starts: list[TraceStart] = []
        for item in items:
            if isinstance(item, TraceStart):
                starts.append(item)
            else:
                records.append(self._record(item))
        self._write(prepare_batch(records, starts, dropped=self._take_unrecorded(), source=SOURCE))

    def _record_drops(self) -> None:
        """Between batches: drops not yet in writer_stats go there, even when no span follows."""
        if self._dropped_unrecorded and self._queue.idle and not self._abandoned:
            self._write(prepare_batch([], [], dropped=self._take_unrecorded(), source=SOURCE))

    def _take_unrecorded(self) -> int:
        with self._drop_lock:
            dropped, self._dropped_unrecorded = self._dropped_unrecorded, 0
            return dropped

    def _write(self, batch: PreparedBatch) -> None:
        """Write one prepared batch, retrying while another process holds the store; a batch
        that can never be written is dropped and counted, never retried forever."""
        while not self._abandoned:
            try:
                with open_store(self.store_path, timeout_s=_OPEN_ATTEMPT_S) as conn:
                    self._conn = conn
                    # Batches are small queries: one thread leaves the other cores to the app.
                    conn.execute("SET threads = 1")
                    self._written += write_prepared(conn, batch)
                self._conn = None
                return
            except StoreLockedError:
                self._conn = None
                stop_at = self._stop_at
                if stop_at is not None and time.monotonic() >= stop_at:
                    break
                time.sleep(random.uniform(*_GAP_S))  # others' turn, then try again
                self._queue.stopping.wait(self._interval)
            except StoreError as error:  # the file became unusable (replaced, newer schema)
                self._conn = None
                self._give_up(batch, error)
                return
            except Exception as error:
                self._conn = None
                if _is_disk_full(error):  # the disk, not tracepond: counted, said once
                    self._disk_full(batch, error)
                    return
                self._give_up(batch, None)
                if not self._abandoned:
                    log_internal_error("DuckDBSpanProcessor writer")
                return
        self._give_up(batch, None)

    def _disk_full(self, batch: PreparedBatch, error: Exception) -> None:
        """The batch is dropped; its spans (and the drops it carried) are counted as drops that
        reach writer_stats, and so `tracepond doctor`, with the first write that succeeds."""
        self._count_drop(batch.span_count)
        with self._drop_lock:
            self._dropped_unrecorded += batch.dropped
        if not self._disk_full_said:
            self._disk_full_said = True
            logger.warning(
                "tracepond: the disk holding %s is full (%s); spans are dropped and counted until "
                "there is room again (see `tracepond doctor`)",
                self.store_path,
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__,
            )

    def _record(self, span: ReadableSpan) -> SpanRecord:
        span_id = span.context.span_id if span.context is not None else 0
        is_root = span_id in self._roots
        self._roots.discard(span_id)
        return span_record(span, is_root)

    def _give_up(self, batch: PreparedBatch, error: StoreError | None) -> None:
        if batch.span_count:
            self._count_drop(batch.span_count, recordable=False)  # the store cannot take it
        if error is not None and batch.span_count:
            logger.warning(
                "tracepond: could not write %d spans to the store: %s", batch.span_count, error
            )
