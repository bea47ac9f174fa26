"""The bounded, never-blocking span queue in front of an OTLP exporter, and its drop counts.

The application's threads only append to a bounded deque (``on_end``); one worker thread takes
batches and exports them, so a collector that is down or slow costs the caller nothing but queue
slots. A batch the OTel exporter gave up on (after its own retries) is kept and retried with
exponential backoff, or after what the collector's ``Retry-After`` / RetryInfo asked, for up to
``retry_budget_s``, but only when the collector's answer is one OTLP calls retryable
(tracepond.exporters.otlp_verdict): a batch the collector refused (a 400, a 401, gRPC
INVALID_ARGUMENT, ...) is dropped at once and counted, and the reason is logged once. Meanwhile
new spans that find the queue full are dropped and counted. ``otlp_drop_counts()`` sums the counts over the process for ``tracepond
doctor``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tracepond.batching import BatchQueue
from tracepond.errors import StoreError, log_internal_error
from tracepond.exporters.otlp_verdict import Verdict, VerdictRecorder

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span

logger = logging.getLogger("tracepond.otlp")

# Drop reasons, as they appear in otlp_drop_counts() and `tracepond doctor`.
QUEUE_FULL = "otlp_queue_full"
EXPORT_FAILED = "otlp_export_failed"
AT_SHUTDOWN = "otlp_at_shutdown"
REFUSED = "otlp_refused"


@dataclass
class ExportStats:
    """What one process has sent, and dropped with the reason, since it started."""

    exported: int = 0
    failed_attempts: int = 0
    dropped_queue_full: int = 0
    dropped_export_failed: int = 0
    dropped_at_shutdown: int = 0
    dropped_refused: int = 0

    def drops(self) -> dict[str, int]:
        return {
            QUEUE_FULL: self.dropped_queue_full,
            EXPORT_FAILED: self.dropped_export_failed,
            AT_SHUTDOWN: self.dropped_at_shutdown,
            REFUSED: self.dropped_refused,
        }


_processors: weakref.WeakSet[OtlpSpanProcessor] = weakref.WeakSet()
_retired = ExportStats()  # totals of processors already shut down, so counts survive reconfigure
_registry_lock = threading.Lock()
_reasons_told: set[str] = set()  # refusal reasons already logged in this process


def otlp_drop_counts() -> dict[str, int]:
    """Spans this process dropped on the OTLP path, by reason (for ``tracepond doctor``)."""
    return {name: count for name, count in otlp_export_stats().drops().items()}


def otlp_export_stats() -> ExportStats:
    """Totals over every OTLP processor of this process, live and shut down."""
    total = ExportStats(**vars(_retired))
    with _registry_lock:
        live = list(_processors)
    for processor in live:
        for name, value in vars(processor.stats).items():
            setattr(total, name, getattr(total, name) + value)
    return total


class OtlpSpanProcessor(SpanProcessor):
    """Queue ended spans without blocking; export them in batches from one worker thread
    (the shared :class:`tracepond.batching.BatchQueue`)."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        max_batch_size: int = 512,
        schedule_delay_s: float = 1.0,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 30.0,
        retry_budget_s: float = 300.0,
        shutdown_timeout_s: float = 5.0,
        verdicts: VerdictRecorder | None = None,
        collector: str = "the collector",
    ) -> None:
        self.exporter = exporter
        self.verdicts = verdicts  # the collector's answers, when the exporter reports them
        self._collector = collector
        self.stats = ExportStats()
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._retry_budget_s = retry_budget_s
        self._shutdown_timeout_s = shutdown_timeout_s
        self._queue: BatchQueue[ReadableSpan] = BatchQueue(
            "otlp-export",
            self._deliver,
            capacity=max_queue_size,
            batch_size=max_batch_size,
            interval_s=schedule_delay_s,
            full_warning=(
                f"tracepond: the OTLP export queue is full ({max_queue_size} spans; the "
                "collector is down or slow); new spans are dropped and counted until it drains. "
                "`tracepond doctor` shows the count."
            ),
            after_cycle=self._record_drops,
        )
        self._stopping = False
        self._failing = False  # the last export attempt failed: the collector is away
        self._shutdown_hooks: list[Callable[[], None]] = []
        self._drop_sink: Callable[[int], None] | None = None
        self._drops_recorded = 0
        self._drops_recorded_at = 0.0
        self._record_every_s = 5.0
        self._record_lock = threading.Lock()
        with _registry_lock:
            _processors.add(self)
        if hasattr(os, "register_at_fork"):
            reinit = weakref.WeakMethod(self._after_fork_in_child)
            os.register_at_fork(after_in_child=lambda: (method := reinit()) and method())

    def _after_fork_in_child(self) -> None:
        self._record_lock = threading.Lock()  # the queue resets itself

    # hot path ----------------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context or not span.context.trace_flags.sampled:
            return
        if self._stopping:
            self.stats.dropped_at_shutdown += 1
        elif not self._queue.put(span):
            self.stats.dropped_queue_full += 1

    # worker ------------------------------------------------------------------------------

    def _deliver(self, batch: list[ReadableSpan]) -> None:
        """Export one batch, retrying with backoff; counted as dropped when it cannot go."""
        first_try = time.monotonic()
        backoff = self._retry_initial_s
        final = self._queue.stopping.is_set()
        if final and self._failing:  # shutting down with the collector away: do not wait on it
            self._count_dropped(len(batch), "at_shutdown")
            return
        while True:
            if self._export_once(batch):
                self._failing = False
                self.stats.exported += len(batch)
                return
            self.stats.failed_attempts += 1
            verdict = self.verdicts.last() if self.verdicts is not None else None
            if verdict is not None and not verdict.retryable:
                self._refused(len(batch), verdict)
                return
            self._failing = True  # the collector is away: a waiting force_flush gives up
            wait = backoff
            if verdict is not None and verdict.retry_after_s is not None:
                wait = verdict.retry_after_s  # the collector said when: that, not our backoff
            out_of_budget = time.monotonic() - first_try + wait > self._retry_budget_s
            stopping = self._queue.stopping.is_set()
            if final or stopping or out_of_budget:
                self._count_dropped(len(batch), "at_shutdown" if stopping else "export_failed")
                return
            self._record_drops()  # a long outage: doctor should see the drops while it lasts
            # Only a shutdown cuts this wait short; the loop then counts the batch as dropped.
            self._queue.stopping.wait(wait)
            backoff = min(backoff * 2, self._retry_max_s)

    def _refused(self, count: int, verdict: Verdict) -> None:
        """A batch the collector will never take: dropped now, and why said once per reason."""
        self._failing = False  # the collector answers (it is not away): flush waits for it
        self.stats.dropped_refused += count
        with _registry_lock:
            first = verdict.reason not in _reasons_told
            _reasons_told.add(verdict.reason)
        if first:
            logger.warning(
                "tracepond: %s refuses spans (%s); they are dropped, not retried (OTLP retries "
                "only 429, 502, 503, 504 and gRPC UNAVAILABLE and kin). Check the endpoint, "
                "OTEL_EXPORTER_OTLP_HEADERS (credentials) and the collector's limits. "
                "`tracepond doctor` counts them with the OTLP drops.",
                self._collector,
                verdict.reason,
            )

    def _export_once(self, batch: list[ReadableSpan]) -> bool:
        if self.verdicts is not None:
            self.verdicts.clear()
        try:
            return self.exporter.export(batch) is SpanExportResult.SUCCESS
        except Exception:  # an exporter must not raise; if it does, count it as a failure
            logger.debug("OTLP exporter raised", exc_info=True)
            return False

    def _count_dropped(self, count: int, reason: str) -> None:
        if reason == "at_shutdown":
            self.stats.dropped_at_shutdown += count
        else:
            self.stats.dropped_export_failed += count
            logger.warning(
                "tracepond: dropped %d spans after retrying OTLP export for %.0f s.",
                count,
                self._retry_budget_s,
            )

    # flush and shutdown ------------------------------------------------------------------

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait (at most the timeout) until the worker has sent what is queued now.

        The export itself stays on the worker thread, so a slow collector costs the caller at
        most ``timeout_millis``, and one that is refusing or down (the last attempt failed)
        costs nothing: the worker keeps retrying in the background. Returns False when the
        queue was not drained.
        """
        if self._stopping:
            return False
        refused_before = self.stats.dropped_refused
        drained = self._queue.flush(timeout_millis / 1000, give_up=lambda: self._failing)
        return drained and self.stats.dropped_refused == refused_before  # refused is not sent

    def record_drops_with(self, sink: Callable[[int], None], every_s: float = 5.0) -> None:
        """Report new drops to ``sink(count)`` from the worker (at most every ``every_s``) and
        at shutdown; the store's writer_stats is the sink, so ``tracepond doctor`` in another
        process sees them. A sink raising StoreError (store locked) is retried later."""
        self._drop_sink = sink
        self._record_every_s = every_s

    def _record_drops(self, force: bool = False) -> None:
        sink = self._drop_sink
        if sink is None:
            return
        with self._record_lock:
            pending = sum(self.stats.drops().values()) - self._drops_recorded
            due = force or time.monotonic() - self._drops_recorded_at >= self._record_every_s
            if pending <= 0 or not due:
                return
            try:
                sink(pending)
            except StoreError:
                return  # locked by another process or gone: the count waits for the next try
            except Exception:
                log_internal_error("otlp drop count")
                return
            self._drops_recorded += pending
            self._drops_recorded_at = time.monotonic()

    def on_shutdown(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` when this processor shuts down (the OTLP metric reader goes with it)."""
        self._shutdown_hooks.append(hook)

    def shutdown(self) -> None:
        """Send what can be sent within ``shutdown_timeout_s``; count the rest as dropped."""
        if self._stopping:
            return
        self._stopping = True
        finished = self._queue.stop(self._shutdown_timeout_s)
        try:
            self.exporter.shutdown()  # interrupts the OTel exporter's own retry sleeps
        except Exception:
            log_internal_error("otlp exporter shutdown")
        if not finished:
            self._queue.join(1.0)
        self.stats.dropped_at_shutdown += len(self._queue.take_left())
        self._record_drops(force=True)
        self._retire()
        for hook in self._shutdown_hooks:
            try:
                hook()
            except Exception:
                log_internal_error("otlp shutdown hook")

    def _retire(self) -> None:
        with _registry_lock:
            if self not in _processors:
                return
            _processors.discard(self)
            for name, value in vars(self.stats).items():
                setattr(_retired, name, getattr(_retired, name) + value)
