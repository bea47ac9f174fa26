"""Scorers: functions that judge one evaluated row, ``@tracepond.scorer``.

    @tracepond.scorer
    def concise(outputs) -> bool:
        return len(outputs) < 200

A scorer takes, by name, any of ``inputs``, ``outputs``, ``expectations`` and ``trace``, and
returns a bool, a number, a string, a :class:`~tracepond.tracking.assessments.Feedback`, or a list
of Feedback (each with its own name). Its name is the function's ``__name__`` unless
``@scorer(name=...)`` says otherwise; it names the assessment and the metric ``NAME/mean``.

Running a scorer never raises: an exception, a hang past ``timeout_s`` or a value that cannot be
stored becomes a Feedback with ``error`` set ("ExceptionType: message"). A scorer with a timeout
runs on a daemon scorer thread, so a hung one is abandoned, not waited for.
"""

from __future__ import annotations

import contextvars
import inspect
import numbers
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, overload

from tracepond.errors import AssessmentError
from tracepond.store.assessments import encode_value
from tracepond.store.trace import Trace
from tracepond.tracking import scorer_threads
from tracepond.tracking.assessments import Feedback, check_name

ARGUMENTS = ("inputs", "outputs", "expectations", "trace")
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ScorerInput:
    """What a scorer may ask for. ``trace`` is loaded only for scorers that ask for it."""

    inputs: Mapping[str, Any]
    outputs: Any
    expectations: Mapping[str, Any]
    trace: Callable[[], Trace | None]


class Scorer:
    """A named check of one row. Subclasses (the judges) override :meth:`score`."""

    source_type = "CODE"

    def __init__(
        self,
        func: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        source_id: str | None = None,
    ) -> None:
        self.func = func
        self.name = check_name(name or getattr(func, "__name__", type(self).__name__))
        self.timeout_s = _check_timeout(timeout_s)
        self.source_id = source_id or self.name
        self.wants, self.unknown = _parameters(func) if func is not None else (ARGUMENTS, ())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def __call__(self, **arguments: Any) -> Any:
        """Call the scorer directly (in a test, say) with keyword arguments."""
        return self.score(**arguments)

    def score(self, **arguments: Any) -> Any:
        assert self.func is not None
        return self.func(**{key: arguments.get(key) for key in self.wants})

    def close(self) -> None:
        """Release what the scorer holds (a judge's client); evaluate() calls it at the end."""

    def check(self) -> None:
        """Refuse a scorer that asks for an argument evaluate() cannot give."""
        if self.unknown:
            raise AssessmentError(
                f"scorer {self.name!r} asks for {', '.join(map(repr, self.unknown))}, which "
                f"evaluate() does not provide; a scorer takes any of {', '.join(ARGUMENTS)}"
            )

    def run(self, row: ScorerInput) -> list[Feedback]:
        """The scorer's verdicts on ``row`` within its timeout, never raising (failures and
        timeouts become error Feedback)."""
        return run_scorers([self], row)[0]

    def verdicts(self, row: ScorerInput) -> list[Feedback]:
        """The verdicts, computed in this thread (no timeout); failures become error Feedback."""
        arguments: dict[str, Any] = {
            "inputs": row.inputs,
            "outputs": row.outputs,
            "expectations": row.expectations,
        }
        try:
            if "trace" in self.wants:
                arguments["trace"] = row.trace()
            return to_feedback(self.name, self.score(**arguments))
        except Exception as error:
            return [Feedback(name=self.name, error=f"{type(error).__name__}: {error}")]


class _Batch:
    """A row's scorers, run one after another on a scorer thread from ``start`` on."""

    def __init__(self, scorers: Sequence[Scorer], row: ScorerInput, start: int) -> None:
        self.scorers, self.row, self.start = scorers, row, start
        self.context = contextvars.copy_context()
        self.done = [threading.Event() for _ in scorers]
        self.results: list[list[Feedback]] = [[] for _ in scorers]
        self.abandoned = False  # set when a scorer overran: the rest moved to another thread

    def run(self) -> None:
        for index in range(self.start, len(self.scorers)):
            if self.abandoned:
                return
            self.results[index] = self.context.run(self.scorers[index].verdicts, self.row)
            self.done[index].set()


def run_scorers(scorers: Sequence[Scorer], row: ScorerInput) -> list[list[Feedback]]:
    """Each scorer's verdicts on ``row``, in order.

    One scorer thread runs them one after another (one hand-off per row, not per scorer). A
    scorer that overruns its ``timeout_s`` gets a TimeoutError Feedback and is left running on
    that thread; the scorers after it go on on another thread."""
    results: list[list[Feedback]] = [[] for _ in scorers]
    start = 0
    while start < len(scorers):
        batch = _Batch(scorers, row, start)
        scorer_threads.submit(batch)
        for index in range(start, len(scorers)):
            scorer = scorers[index]
            if not batch.done[index].wait(scorer.timeout_s):  # None: no limit
                batch.abandoned = True
                results[index] = [Feedback(name=scorer.name, error=f"TimeoutError: scorer "
                                           f"{scorer.name!r} did not finish within {scorer.timeout_s:g}s")]  # fmt: skip
                start = index + 1
                break
            results[index] = batch.results[index]
        else:
            start = len(scorers)
    return results


def _parameters(func: Callable[..., Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the arguments it takes, the required parameters that are not arguments)."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return ARGUMENTS, ()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return ARGUMENTS, ()
    wants = tuple(p.name for p in parameters if p.name in ARGUMENTS)
    unknown = tuple(
        p.name
        for p in parameters
        if p.name not in ARGUMENTS
        and p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )
    return wants, unknown


def _check_timeout(timeout_s: float | None) -> float | None:
    if timeout_s is None:
        return None
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, numbers.Real) or timeout_s <= 0:
        raise AssessmentError(f"timeout_s must be a positive number of seconds, not {timeout_s!r}")
    return float(timeout_s)


def to_feedback(name: str, value: Any) -> list[Feedback]:
    """A scorer's return value as Feedback; an unusable value is a ValueError."""
    if isinstance(value, Feedback):
        return [value if value.name else replace(value, name=name)]
    if isinstance(value, list | tuple) and value and all(isinstance(v, Feedback) for v in value):
        missing = [v for v in value if not v.name]
        if missing and len(value) > 1:
            raise ValueError(f"scorer {name!r} returned several Feedback; each needs a name")
        return [v if v.name else replace(v, name=name) for v in value]
    if value is None:
        raise ValueError(f"scorer {name!r} returned None; return a bool, number, str or Feedback")
    if isinstance(value, bool | numbers.Real | str):
        return [Feedback(name=name, value=value)]
    encode_value(name, value)  # a list or dict that can be stored is kept as it is
    return [Feedback(name=name, value=value)]


def numeric(value: Any) -> float | None:
    """The number a value counts as in a mean: bools and yes/no as 1/0; None when it has none."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        return 1.0 if value.strip().lower() == "yes" else 0.0
    return None


@overload
def scorer(func: Callable[..., Any]) -> Scorer: ...


@overload
def scorer(
    func: None = None, *, name: str | None = None, timeout_s: float | None = DEFAULT_TIMEOUT_S
) -> Callable[[Callable[..., Any]], Scorer]: ...


def scorer(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> Scorer | Callable[[Callable[..., Any]], Scorer]:
    """Make a function a scorer: ``@scorer`` or ``@scorer(name="concise", timeout_s=5)``."""
    if func is not None:
        return Scorer(func, name=name, timeout_s=timeout_s)
    return lambda f: Scorer(f, name=name, timeout_s=timeout_s)


def as_scorer(candidate: Any) -> Scorer:
    """A Scorer from what evaluate() was given: a Scorer, or a plain function."""
    if isinstance(candidate, Scorer):
        return candidate
    if callable(candidate):
        return Scorer(candidate)
    raise AssessmentError(
        f"scorers must be @tracepond.scorer functions, built-ins or judges, not {candidate!r}"
    )
