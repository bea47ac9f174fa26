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


class BatchQueue(Generic[T]):
    """A bounded deque the app fills and one worker drains in batches (see the module doc)."""

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
        self._items: collections.deque[T] = collections.deque()
        self._lock = threading.Lock()
        self._settled_cv = threading.Condition(self._lock)
        self._wake = threading.Event()
        self.stopping = threading.Event()  # set by stop(); deliver may wait on it to back off
        self._put_count = 0  # items accepted so far
        self._settled_count = 0  # of those, how many deliver has finished with
        self._warned = False
        self._worker: threading.Thread | None = None
        self._worker_pid = -1

    # --- the app's side ---------------------------------------------------------------------

    def put(self, item: T) -> bool:
        """Queue ``item``; False when the queue is full or stopping (the caller counts it)."""
        with self._lock:
            if self.stopping.is_set():
                return False
            if len(self._items) >= self.capacity:
                warn, self._warned = not self._warned, True
            else:
                self._items.append(item)
                self._put_count += 1
                if self._worker_pid != os.getpid():
                    self._start_worker()
                if len(self._items) >= self.wake_at:
                    self._wake.set()
                return True
        if warn and self._full_warning:
            logger.warning(self._full_warning)
        return False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being delivered."""
        return self._settled_count >= self._put_count

    def flush(self, timeout_s: float, give_up: Callable[[], bool] | None = None) -> bool:
        """Wait until everything put before this call is settled; False at the deadline, or as
        soon as ``give_up()`` says waiting is pointless (a collector that is down)."""
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._lock:
            target = self._put_count
            while self._settled_count < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (give_up is not None and give_up()):
                    return False
                if self._worker is None or not self._worker.is_alive():
                    return False
                self._wake.set()
                self._settled_cv.wait(min(remaining, _FLUSH_POLL_S))
            return True

    # --- stopping ---------------------------------------------------------------------------

    def stop(self, timeout_s: float) -> bool:
        """Refuse new items, let the worker deliver what it can until the deadline; True when it
        finished (the queue is empty), False when it is still busy."""
        self.stopping.set()
        self._wake.set()
        worker = self._worker
        if worker is None or worker is threading.current_thread():
            return not self._items
        worker.join(max(timeout_s, 0.0))
        return not worker.is_alive()

    def join(self, timeout_s: float) -> bool:
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(timeout_s, 0.0))
            return not worker.is_alive()
        return True

    def take_left(self) -> list[T]:
        """After ``stop``: what is still queued, removed (the caller counts it as dropped)."""
        with self._lock:
            left = list(self._items)
            self._items.clear()
            self._settled_count = self._put_count
            self._settled_cv.notify_all()
            return left

    # --- the worker ---------------------------------------------------------------------------

    def _start_worker(self) -> None:
        self._worker_pid = os.getpid()
        self._worker = threading.Thread(target=self._run, name=f"tracepond-{self.name}")
        self._worker.daemon = True
        self._worker.start()

    def _run(self) -> None:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            while True:
                stopping = self.stopping.is_set()
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
        while batch := self._take_batch():
            try:
                self._deliver(batch)
            except Exception:
                log_internal_error(f"{self.name} delivery")
            with self._lock:
                self._settled_count += len(batch)
                if not self._items:
                    self._warned = False  # the episode is over: warn again next time
                self._settled_cv.notify_all()

    def _take_batch(self) -> list[T]:
        with self._lock:
            batch: list[T] = []
            weight = 0
            items = self._items
            while items and (not batch or weight + self._weight(items[0]) <= self.batch_size):
                item = items.popleft()
                batch.append(item)
                weight += self._weight(item)
            return batch

    def _housekeeping(self) -> None:
        if self._after_cycle is None:
            return
        try:
            self._after_cycle()
        except Exception:
            log_internal_error(f"{self.name} housekeeping")
