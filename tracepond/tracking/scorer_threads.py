"""The daemon threads scorers run on: reused from row to row, never waited for at exit.

Starting a thread per scorer call costs ~100 µs; handing work to an idle thread costs a queue
put. A task that hangs keeps its thread; the next task finds no idle thread and starts another,
so a hung scorer never blocks the others, and a hung thread never holds up the interpreter's
exit (daemon threads).
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Protocol


class Task(Protocol):
    def run(self) -> None: ...


_tasks: queue.SimpleQueue[Task] = queue.SimpleQueue()
_lock = threading.Lock()
_idle = 0


def submit(task: Task) -> None:
    """Run ``task.run()`` on an idle scorer thread, or a new one."""
    global _idle
    with _lock:
        start = _idle == 0
        if not start:
            _idle -= 1  # this task is that thread's
    if start:
        threading.Thread(target=_work, name="tracepond-scorer", daemon=True).start()
    _tasks.put(task)


def _work() -> None:
    global _idle
    while True:
        _tasks.get().run()  # Task.run never raises: scorers' failures are their verdicts
        with _lock:
            _idle += 1


def _reset_in_child() -> None:
    # A forked child has none of the parent's threads: counting them idle would strand tasks.
    global _tasks, _lock, _idle
    _tasks, _lock, _idle = queue.SimpleQueue(), threading.Lock(), 0


os.register_at_fork(after_in_child=_reset_in_child)
