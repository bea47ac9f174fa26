"""One bounded batch queue with its worker thread, for everything that ships items off the app's
thread: the DuckDB span processor, the OTLP span processor and the viewer's OTLP ingest.

The application's threads only ``put`` (O(1), never blocks, never raises): a full queue refuses
the item, warns once per episode (until the queue has drained again) and leaves counting to the
caller, who knows what the item was. One worker thread, started on the first ``put`` (and again
in a forked child, whose parent's queue and thread did not come along), wakes when a batch is
full (or ``wake_at`` items are queued) or every ``interval_s`` and hands batches of at most ``batch_size`` (by ``weight``) to
``deliver``. ``deliver`` owns retries and drops; when it returns, the batch is settled.

``flush(timeout_s)`` waits until every item put before it is settled; ``stop(timeout_s)`` lets
the worker deliver what it can until the deadline, and ``take_left()`` hands back what is still
queued after that. Work on the worker runs with instrumentation suppressed, so delivering never
traces itself.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

from tracepond.errors import log_internal_error

T = TypeVar("T")

logger = logging.getLogger("tracepond")

_FLUSH_POLL_S = 0.05  # how often a waiting flush re-checks its give-up condition


def _one(_item: object) -> int:
    return 1


class _FlushMarker:
    """Put behind the items a ``flush`` waits for; set once they are settled (or given back)."""

    __slots__ = ("delivered", "done")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.delivered = False

    def settle(self, delivered: bool) -> None:
        self.delivered = delivered
        self.done.set()


class BatchQueue(Generic[T]):
    """A bounded deque the app fills and one worker drains in batches (see the module doc).

    ``put`` takes no lock: ``deque.append`` is atomic, and the bound is checked with ``len``, so
    two racing threads may overshoot it by a few items. Flush waits travel through the deque as
    markers, so the hot path keeps no counter.
    """

    def __init__(
        self,
        name: str,
        deliver: Callable[[list[T]], None],
        *,
        capacity: int,
        batch_size: int,
        interval_s: float,
        full_warning: str | None = None,
        weight: Callable[[T], int] = _one,
        wake_at: int | None = None,
        after_cycle: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.capacity = max(1, capacity)
        self.batch_size = max(1, min(batch_size, self.capacity))
        self.interval_s = interval_s
        self.wake_at = wake_at or self.batch_size  # queued items that wake the worker early
        self._deliver = deliver
        self._full_warning = full_warning
        self._weight = weight
        self._after_cycle = after_cycle
        self._init_state()
        if hasattr(os, "register_at_fork"):
            reinit = weakref.WeakMethod(self._init_state)
            os.register_at_fork(after_in_child=lambda: (method := reinit()) and method())

    def _init_state(self) -> None:
        # Also the fork hook: the child's queue starts empty, its worker on the first put.
        self._items: collections.deque[T | _FlushMarker] = collections.deque()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self.stopping = threading.Event()  # set by stop(); deliver may wait on it to back off
        self._stopped = False  # the same, as a plain attribute for the hot path
        self._busy = False  # the worker holds a batch outside the deque
        self._warned = False
        self._worker: threading.Thread | None = None

    # --- the app's side ---------------------------------------------------------------------

    def put(self, item: T) -> bool:
        """Queue ``item``; False when the queue is full or stopping (the caller counts it)."""
        items = self._items
        if self._stopped or len(items) >= self.capacity:
            self._refused()
            return False
        items.append(item)
        if self._worker is None:
            self._start_worker()
        if len(items) >= self.wake_at and not self._wake.is_set():
            self._wake.set()
        return True

    def _refused(self) -> None:
        if self._warned or self._stopped:
            return
        self._warned = True  # a rare race may warn twice; never on every span
        if self._full_warning:
            logger.warning(self._full_warning)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being delivered."""
        return not self._items and not self._busy

    def flush(self, timeout_s: float, give_up: Callable[[], bool] | None = None) -> bool:
        """Wait until everything put before this call is settled; False at the deadline, or as
        soon as ``give_up()`` says waiting is pointless (a collector that is down)."""
        if self.idle:
            return True
        worker = self._worker
        if worker is None or not worker.is_alive():
            return False
        marker = _FlushMarker()
        self._items.append(marker)
        self._wake.set()
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while not marker.done.wait(min(max(deadline - time.monotonic(), 0.0), _FLUSH_POLL_S)):
            if time.monotonic() >= deadline or (give_up is not None and give_up()):
                return False
            if not worker.is_alive():
                return False
        return marker.delivered

    # --- stopping ---------------------------------------------------------------------------

    def stop(self, timeout_s: float) -> bool:
        """Refuse new items, let the worker deliver what it can until the deadline; True when it
        finished (the queue is empty), False when it is still busy."""
        self._stopped = True
        self.stopping.set()
        self._wake.set()
        return self.join(timeout_s) and not self._items

    def join(self, timeout_s: float) -> bool:
        """Wait for the worker to end; True when it has (or never started)."""
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(timeout_s, 0.0))
            return not worker.is_alive()
        return True

    def take_left(self) -> list[T]:
        """After ``stop``: what is still queued, removed (the caller counts it as dropped)."""
        left: list[T] = []
        while self._items:
            item = self._items.popleft()
            if isinstance(item, _FlushMarker):
                item.settle(False)
            else:
                left.append(item)
        return left

    # --- the worker ---------------------------------------------------------------------------

    def _start_worker(self) -> None:
        with self._start_lock:
            if self._worker is not None:
                return
            worker = threading.Thread(target=self._run, name=f"tracepond-{self.name}")
            worker.daemon = True
            worker.start()
            self._worker = worker

    def _run(self) -> None:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            while True:
                stopping = self._stopped
                if not stopping:
                    self._wake.wait(self.interval_s)
                    self._wake.clear()
                self._drain()
                self._housekeeping()
                if stopping:
                    return
        finally:
            detach(token)

    def _drain(self) -> None:
        while True:
            self._busy = True
            batch, markers = self._take_batch()
            if not batch and not markers:
                self._busy = False
                self._warned = False  # drained: the next time it fills, say so again
                return
            if batch:
                try:
                    self._deliver(batch)
                except Exception:
                    log_internal_error(f"{self.name} delivery")
            self._busy = False
            for marker in markers:
                marker.settle(True)

    def _take_batch(self) -> tuple[list[T], list[_FlushMarker]]:
        batch: list[T] = []
        markers: list[_FlushMarker] = []
        weight = 0
        items = self._items
        while items:
            item = items[0]
            if isinstance(item, _FlushMarker):
                markers.append(item)  # settled with the items before it
            elif batch and weight + self._weight(item) > self.batch_size:
                break
            else:
                batch.append(item)
                weight += self._weight(item)
            items.popleft()
        return batch, markers

    def _housekeeping(self) -> None:
        if self._after_cycle is None:
            return
        try:
            self._after_cycle()
        except Exception:
            log_internal_error(f"{self.name} housekeeping")
