"""What a span links to (the active run and logged model), and carrying context into threads.

The active run and model id are contextvars, so they follow asyncio tasks and
``contextvars.copy_context()``; every span started while they are set gets
``tracepond.run_id`` / ``tracepond.experiment_id`` / ``tracepond.model_id``.

A plain ``ThreadPoolExecutor`` runs work in a fresh context, so the work's spans would start new
traces. :class:`ContextThreadPoolExecutor` (or :func:`wrap_with_context` around one callable)
runs it in a copy of the submitting thread's context: the current span, run and model come along.
(``asyncio.to_thread`` already copies the context; ``loop.run_in_executor`` does not.)
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class ActiveRun(NamedTuple):
    run_id: str
    experiment_id: str | None


_active_run: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar(
    "tracepond_active_run", default=None
)
_active_model_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tracepond_active_model_id", default=None
)


def set_active_run(
    run_id: str | None, experiment_id: str | None = None
) -> contextvars.Token[ActiveRun | None]:
    """Make ``run_id`` the run new spans belong to (None: no run). Returns a token for
    :func:`reset_active_run`."""
    return _active_run.set(None if run_id is None else ActiveRun(run_id, experiment_id))


def reset_active_run(token: contextvars.Token[ActiveRun | None]) -> None:
    """Restore the active run from before the :func:`set_active_run` that gave ``token``."""
    _active_run.reset(token)


def get_active_run() -> ActiveRun | None:
    """The active run as ``(run_id, experiment_id)``, or None."""
    return _active_run.get()


def set_active_model_id(model_id: str | None) -> contextvars.Token[str | None]:
    """Make ``model_id`` the logged model new spans link to (None: none)."""
    return _active_model_id.set(model_id)


def reset_active_model_id(token: contextvars.Token[str | None]) -> None:
    _active_model_id.reset(token)


def get_active_model_id() -> str | None:
    return _active_model_id.get()


def wrap_with_context(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` bound to a copy of the current context: call it in another thread and its spans
    nest under the span current here, with the same run and model."""
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.run(fn, *args, **kwargs)

    return run_in_context


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run in a copy of the submitting thread's context.

    Each ``submit`` (and so each item of ``map``) copies the context at submission, so work
    submitted inside a span nests under it, even when submitted from different spans.
    """

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)
