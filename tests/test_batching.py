"""The one bounded batch queue: what the app's side sees, what the worker delivers, what is left."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from tracepond.batching import BatchQueue


class Sink:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate

    def __call__(self, batch: list[int]) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        self.batches.append(batch)


def test_items_arrive_in_order_in_batches_of_at_most_batch_size() -> None:
    sink = Sink()
    queue: BatchQueue[int] = BatchQueue("t", sink, capacity=100, batch_size=4, interval_s=5.0)
    for item in range(10):
        assert queue.put(item)
    assert queue.flush(10)
    assert [item for batch in sink.batches for item in batch] == list(range(10))
    assert max(len(batch) for batch in sink.batches) <= 4


def test_a_full_queue_refuses_and_warns_once_per_episode(caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()
    sink = Sink(gate)
    queue: BatchQueue[int] = BatchQueue(
        "t", sink, capacity=3, batch_size=1, interval_s=5.0, full_warning="queue full"
    )
    with caplog.at_level(logging.WARNING, logger="tracepond"):
        accepted = [queue.put(item) for item in range(10)]
    # the worker may hold one item while the deque refills to its capacity of 3
    assert accepted[:3] == [True, True, True] and accepted.count(True) <= 4
    assert [r.getMessage() for r in caplog.records].count("queue full") == 1
    gate.set()
    assert queue.flush(10)
    delivered = [item for batch in sink.batches for item in batch]
    assert delivered == [item for item, ok in zip(range(10), accepted, strict=True) if ok]


def test_flush_gives_up_at_its_deadline_and_when_told_to() -> None:
    gate = threading.Event()
    queue: BatchQueue[int] = BatchQueue("t", Sink(gate), capacity=10, batch_size=1, interval_s=5.0)
    queue.put(1)
    assert not queue.flush(0.05)
    assert not queue.flush(10, give_up=lambda: True)
    gate.set()
    assert queue.flush(10)
    assert queue.idle


def test_weight_closes_a_batch() -> None:
    sink = Sink()
    queue: BatchQueue[int] = BatchQueue(
        "t", sink, capacity=10, batch_size=5, interval_s=5.0, weight=lambda n: n, wake_at=1
    )
    for item in (3, 2, 4, 6):
        queue.put(item)
    assert queue.flush(10)
    assert all(sum(batch) <= 5 or len(batch) == 1 for batch in sink.batches)
    assert [item for batch in sink.batches for item in batch] == [3, 2, 4, 6]


def test_stop_delivers_what_it_can_and_hands_back_the_rest() -> None:
    gate = threading.Event()
    sink = Sink(gate)
    queue: BatchQueue[int] = BatchQueue("t", sink, capacity=10, batch_size=1, interval_s=5.0)
    for item in range(3):
        queue.put(item)
    assert not queue.stop(0.1)  # the sink is stuck on the first item
    assert not queue.put(99)  # stopping: refused
    left = queue.take_left()
    gate.set()
    assert queue.join(5)
    delivered = [item for batch in sink.batches for item in batch]
    assert sorted(delivered + left) == [0, 1, 2]


def test_a_delivery_that_raises_settles_its_batch_and_the_queue_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRACEPOND_RAISE_INTERNAL_ERRORS", raising=False)  # an app, not a test
    seen: list[list[int]] = []

    def deliver(batch: list[int]) -> None:
        seen.append(batch)
        if batch == [1]:
            raise RuntimeError("boom")

    queue: BatchQueue[int] = BatchQueue("t", deliver, capacity=10, batch_size=1, interval_s=5.0)
    queue.put(1)
    queue.put(2)
    assert queue.flush(10)
    assert seen == [[1], [2]]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_starts_with_an_empty_queue_and_its_own_worker() -> None:
    gate = threading.Event()
    sink = Sink(gate)
    queue: BatchQueue[int] = BatchQueue("t", sink, capacity=10, batch_size=1, interval_s=5.0)
    queue.put(1)  # stuck in the parent's worker
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's item is not ours; ours is delivered by a new worker
        gate.set()
        ok = len(queue) == 0 and queue.put(2) and queue.flush(5) and sink.batches[-1] == [2]
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    gate.set()
    assert answer == b"1"
    assert queue.flush(10)
    assert sink.batches == [[1]]
