"""The DuckDB span processor: finished spans reach the local store in batches, off the app's thread.

``on_end`` appends the span to a bounded in-memory queue and returns (a full queue drops the span
and counts it; a warning is logged once). ``on_start`` of a root span queues a small record so the
trace shows as in progress before it ends. One writer thread per processor wakes when a batch is
full or every ``flush_interval_s``, opens the store for a moment (retrying while another process
holds it), writes each batch of at most ``batch_size`` spans in one transaction through
:mod:`tracepond.store.writer`, and closes it again so other processes get their turn. While the
store stays locked, batches wait in memory (bounded by ``queue_size``); spans that find the queue
full are dropped and counted, and the count is written to the store's ``writer_stats`` table for
``tracepond doctor``.

``force_flush`` waits for what was queued before it; ``shutdown`` (also run at interpreter exit)
writes what is left, waiting at most ``shutdown_timeout_s``. Nothing here raises into the app:
failures go to :func:`tracepond.errors.log_internal_error`.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

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
_HOLD_S = 0.25  # longest a writer keeps the file while it has a backlog, so others get a turn
_GAP_S = (0.02, 0.05)
_PREPARE_AHEAD = 4  # prepared batches waiting for the store (each at most batch_size spans)  # then it waits this long before its next turn (readers retry every ~10 ms)
_LIVE_LIMIT = 1_000_000  # span ids remembered for root detection (spans never ended leak here)
SOURCE = "duckdb"


def write_spans(
    store_path: str, spans: Sequence[ReadableSpan], *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> int:
    """Write spans that finished elsewhere (OTLP ingest, ``tracepond import``) in one
    transaction, converted as the processor converts them; returns how many were new."""
    with suppressed():
        return _write_finished(store_path, spans, timeout_s=timeout_s)


class _FlushMarker:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


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
        self._queue_size = max(1, int(getattr(settings, "queue_size", _DEFAULT_QUEUE_SIZE)))
        self._batch_size = max(1, int(getattr(settings, "batch_size", _DEFAULT_BATCH_SIZE)))
        self._interval = float(getattr(settings, "flush_interval_s", _DEFAULT_FLUSH_INTERVAL_S))
        self._shutdown_timeout_s = shutdown_timeout_s
        self._init_state()
        register_writer(self.store_path, self)  # reads of this store flush us first
        weak_self = weakref.WeakMethod(self._after_fork_in_child)
        os.register_at_fork(after_in_child=lambda: (m := weak_self()) and m())
        weak_shutdown = weakref.WeakMethod(self.shutdown)
        atexit.register(lambda: (m := weak_shutdown()) and m())

    def _init_state(self) -> None:
        self._queue: collections.deque[ReadableSpan | TraceStart | _FlushMarker] = (
            collections.deque()
        )
        self._prepared: list[tuple[PreparedBatch, list[_FlushMarker]]] = []
        self._landed: list[_FlushMarker] = []  # flushes whose spans are committed
        self._live: set[int] = set()
        self._roots: set[int] = set()
        self._wake = threading.Event()
        self._drop_lock = threading.Lock()
        self._dropped_total = 0
        self._dropped_unrecorded = 0
        self._warned = False
        self._closed = False
        self._stop_at: float | None = None
        self._abandoned = False
        self._busy = False  # the writer holds items outside the queue and the prepared list
        self._conn: Any = None  # the writer's open connection, to interrupt at a late exit
        self._written = 0
        self._worker = threading.Thread(
            target=self._run, name="tracepond-duckdb-writer", daemon=True
        )
        self._worker.start()

    def _after_fork_in_child(self) -> None:
        # The parent's queue belongs to the parent; the child starts empty with its own thread.
        closed = self._closed
        self._init_state()
        self._closed = closed

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
                self._append(trace_start(span), counts=False)
        except Exception:
            log_internal_error("DuckDBSpanProcessor.on_start")

    def on_end(self, span: ReadableSpan) -> None:
        try:
            context = span.context
            if context is None:
                return
            self._live.discard(context.span_id)
            if self._closed or not span.context.trace_flags.sampled:
                self._roots.discard(context.span_id)
                return
            if not self._append(span, counts=True):
                self._roots.discard(context.span_id)
        except Exception:
            log_internal_error("DuckDBSpanProcessor.on_end")

    def _append(self, item: ReadableSpan | TraceStart, counts: bool) -> bool:
        queue = self._queue
        if len(queue) >= self._queue_size:
            if counts:
                self._count_drop(1)
            return False
        queue.append(item)
        if len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()
        return True

    def _count_drop(self, count: int) -> None:
        with self._drop_lock:
            self._dropped_total += count
            self._dropped_unrecorded += count
            warn = not self._warned
            self._warned = True
        if warn:
            logger.warning(
                "tracepond: the span queue for %s is full (%d spans); new spans are dropped and "
                "counted until the writer catches up (see `tracepond doctor`, or raise "
                "TRACEPOND_QUEUE_SIZE)",
                self.store_path,
                self._queue_size,
            )

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
        if self._idle() and not self._busy:
            return True  # everything that ended before this call is committed
        if not self._worker.is_alive():
            return False
        marker = _FlushMarker()
        self._queue.append(marker)
        self._wake.set()
        return marker.done.wait(max(timeout_millis, 0) / 1000.0)

    def shutdown(self) -> None:
        """Stop accepting spans, write what is queued (waiting at most shutdown_timeout_s)."""
        if self._closed:
            return
        self._closed = True
        self._stop_at = time.monotonic() + self._shutdown_timeout_s
        self._wake.set()
        self._worker.join(self._shutdown_timeout_s + 1.0)
        if self._worker.is_alive():  # still waiting or writing: stop it before the exit does
            self._abandoned = True
            conn = self._conn
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.interrupt()
            self._worker.join(2.0)
        left = sum(batch.span_count for batch, _ in self._prepared)
        left += sum(1 for item in self._queue if isinstance(item, ReadableSpan))
        self._abandoned = True  # a writer still busy stops quietly; the interpreter is leaving
        if left:
            with self._drop_lock:
                self._dropped_total += left
            logger.warning(
                "tracepond: %d spans were not written to %s before exit (the store stayed locked "
                "by another process)",
                left,
                self.store_path,
            )

    # --- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        with suppressed():
            while True:
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._abandoned:
                    return
                self._write_available()
                if self._stop_at is not None and (
                    self._idle() or time.monotonic() >= self._stop_at
                ):
                    return

    def _idle(self) -> bool:
        return not self._queue and not self._prepared and not self._dropped_unrecorded

    def _write_available(self) -> None:
        self._busy = True
        try:
            self._write_batches()
        finally:
            self._busy = False

    def _write_batches(self) -> None:
        """Write batches while there is work. Batches are prepared (converted to Arrow) before
        the store is opened, so the file is held only for the SQL, and at most _HOLD_S."""
        while not self._idle():
            self._prepare_ahead()
            try:
                with open_store(self.store_path, timeout_s=_OPEN_ATTEMPT_S) as conn:
                    self._conn = conn
                    # Batches are small queries: one thread leaves the other cores to the app.
                    conn.execute("SET threads = 1")
                    hold_until = time.monotonic() + _HOLD_S
                    while self._prepared and time.monotonic() < hold_until:
                        batch, markers = self._prepared[0]
                        self._written += write_prepared(conn, batch)
                        self._prepared.pop(0)
                        self._landed.extend(markers)
                self._conn = None
                self._release_markers()  # after the close: a flushed store is free to open
            except StoreLockedError:
                stopping = self._stop_at is not None
                if not stopping or time.monotonic() >= self._stop_at:  # type: ignore[operator]
                    return  # contended: the batches stay prepared, retried on the next wake-up
            except StoreError as error:  # the file became unusable (replaced, newer schema)
                self._give_up_prepared(error)
                return
            except Exception:
                self._conn = None
                self._give_up_prepared(None)
                if not self._abandoned:
                    log_internal_error("DuckDBSpanProcessor writer")
                return
            if not self._idle():
                time.sleep(random.uniform(*_GAP_S))  # a gap for other processes' turn

    def _prepare_ahead(self) -> None:
        """Turn queued items into prepared batches (at most _PREPARE_AHEAD waiting)."""
        while len(self._prepared) < _PREPARE_AHEAD and (self._queue or self._dropped_unrecorded):
            records: list[SpanRecord] = []
            starts: list[TraceStart] = []
            markers: list[_FlushMarker] = []
            queue = self._queue
            while queue and len(records) < self._batch_size:
                item = queue.popleft()
                if isinstance(item, _FlushMarker):
                    markers.append(item)
                elif isinstance(item, TraceStart):
                    starts.append(item)
                else:
                    records.append(self._record(item))
            with self._drop_lock:
                dropped, self._dropped_unrecorded = self._dropped_unrecorded, 0
            batch = prepare_batch(records, starts, dropped=dropped, source=SOURCE)
            self._prepared.append((batch, markers))

    def _release_markers(self) -> None:
        landed, self._landed = self._landed, []
        for marker in landed:
            marker.done.set()

    def _record(self, span: ReadableSpan) -> SpanRecord:
        span_id = span.context.span_id if span.context is not None else 0
        is_root = span_id in self._roots
        self._roots.discard(span_id)
        return span_record(span, is_root)

    def _give_up_prepared(self, error: StoreError | None) -> None:
        """Batches that cannot be written are dropped (and counted), never retried forever."""
        self._prepare_ahead()
        prepared, self._prepared = self._prepared, []
        lost = sum(batch.span_count for batch, _ in prepared)
        if lost:
            with self._drop_lock:
                self._dropped_total += lost  # the store cannot take the count either
        if error is not None and lost:
            logger.warning("tracepond: could not write %d spans to the store: %s", lost, error)
        for _, markers in prepared:  # last: a flush waiting on them returns to a settled state
            for marker in markers:
                marker.done.set()
