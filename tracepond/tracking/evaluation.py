"""``evaluate()``: run ``predict_fn`` over rows, score each, record it all in a run.

    result = tracepond.evaluate(data, predict_fn=answer, scorers=[concise, exact_match()],
                                experiment="support-bot", name="eval-4", max_workers=4)
    result.metrics        # {"concise/mean": 0.8, "exact_match/mean": 0.6}

Everything that can be checked is checked before a run starts (data rows, scorer arguments,
scorer names used twice), so a refused call leaves the store as it was. Then each row runs
``predict_fn(**inputs)`` inside its own trace, in a pool of ``max_workers`` daemon threads, each
carrying the run in its context so the trace links to it. Each scorer's verdict becomes an
assessment on the row's trace; the row's expectations become expectation assessments. They are
written in batches through the store's assessment write path while rows finish (a long
evaluation's every 10 s).

A scorer that raises or hangs gives an error assessment and the evaluation goes on; so does a
``predict_fn`` that raises on a row (its trace records the exception). Ctrl-C stops: rows not
started are dropped, the finished ones are written, their means logged, the run ends KILLED, and
KeyboardInterrupt is re-raised. A progress bar is drawn on stderr only when it is a terminal.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import numbers
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tracepond.errors import AssessmentError
from tracepond.store.assessments import (
    EXPECTATION,
    FEEDBACK,
    Assessment,
    AssessmentSource,
    Changes,
    apply_changes,
)
from tracepond.store.connection import resolve_store
from tracepond.store.query import get_trace
from tracepond.store.trace import Trace
from tracepond.tracing.spans import start_span
from tracepond.tracking import run_logging, runs
from tracepond.tracking.assessments import Feedback, build, parse_source
from tracepond.tracking.evaluation_data import EvalRow, prepare
from tracepond.tracking.evaluation_result import EvaluationResult, RowResult, aggregate
from tracepond.tracking.scoring import Scorer, ScorerInput, as_scorer, run_scorers

logger = logging.getLogger("tracepond")

EVALUATION_TAG = "tracepond.evaluation"
DATASET_TAG, DATASET_VERSION_TAG = "tracepond.dataset", "tracepond.dataset_version"
_BATCH_ASSESSMENTS, _BATCH_SECONDS = 10_000, 10.0


def evaluate(
    data: Any,
    predict_fn: Callable[..., Any] | None = None,
    scorers: Sequence[Any] = (),
    *,
    experiment: str | None = None,
    name: str | None = None,
    max_workers: int = 1,
    store: str | None = None,
) -> EvaluationResult:
    """Evaluate ``predict_fn`` (or recorded outputs/traces) on ``data`` with ``scorers``."""
    chosen = _check_scorers(scorers)
    workers = _check_workers(max_workers)
    prepared = prepare(data, predict_fn)
    path = resolve_store(store)
    tags = {EVALUATION_TAG: "true", "tracepond.scorers": ",".join(s.name for s in chosen)}
    if prepared.dataset is not None:
        tags[DATASET_TAG], tags[DATASET_VERSION_TAG] = prepared.dataset[0], str(prepared.dataset[1])
    nested = runs.active_run() is not None
    run = runs.start_run(experiment, name, tags=tags, nested=nested, store=path)
    writer = _Writer(path)
    finished: list[RowResult] = []
    try:
        job = _Job(predict_fn, chosen, run.run_id, path)
        with _progress(len(prepared.rows)) as advance:
            for result in _pool(job.run_row, prepared.rows, workers):
                finished.append(result)
                writer.add(result, job.expectations_of(result))
                advance()
    except KeyboardInterrupt:
        _stop(writer, finished, run.run_id, path, len(prepared.rows))
        raise
    except BaseException:
        writer.close()
        runs.end_run(runs.FAILED, run_id=run.run_id, store=path)
        raise
    finally:
        for scorer in chosen:
            scorer.close()
    writer.close()
    metrics = _log_metrics(finished, run.run_id, path)
    runs.end_run(runs.FINISHED, run_id=run.run_id, store=path)
    finished.sort(key=lambda r: r.index)
    return EvaluationResult(run.run_id, metrics, finished, prepared.dataset)


def _check_scorers(scorers: Sequence[Any]) -> list[Scorer]:
    if isinstance(scorers, Scorer) or callable(scorers):
        scorers = [scorers]
    chosen = [as_scorer(s) for s in scorers]
    if not chosen:
        raise AssessmentError("evaluate() needs at least one scorer")
    seen: set[str] = set()
    for scorer in chosen:
        scorer.check()
        if scorer.name in seen:
            raise AssessmentError(
                f"two scorers are named {scorer.name!r}; names identify the assessments and "
                "metrics, so give one another name with @scorer(name=...)"
            )
        seen.add(scorer.name)
    return chosen


def _check_workers(max_workers: Any) -> int:
    if isinstance(max_workers, bool) or not isinstance(max_workers, numbers.Integral):
        raise AssessmentError(f"max_workers must be a positive integer, not {max_workers!r}")
    if max_workers < 1:
        raise AssessmentError(f"max_workers must be a positive integer, not {max_workers!r}")
    return int(max_workers)


class _Job:
    """How one row is run and scored."""

    def __init__(
        self, predict_fn: Callable[..., Any] | None, scorers: list[Scorer], run_id: str, store: str
    ) -> None:
        self.predict_fn = predict_fn
        self.scorers = scorers
        self.run_id = run_id
        self.store = store
        self.span_name = getattr(predict_fn, "__name__", None) or "evaluate_row"

    def run_row(self, row: EvalRow) -> RowResult:
        if row.trace is not None:
            trace_id, outputs, error = row.trace.trace_id, row.outputs, None
        else:
            trace_id, outputs, error = self._predict(row)
        loader = _TraceLoader(trace_id, self.store, row.trace)
        scored = ScorerInput(row.inputs, outputs, row.expectations, loader)
        if error is None:
            verdicts = run_scorers(self.scorers, scored)
        else:
            failed = f"predict_fn failed: {error}"
            verdicts = [[Feedback(name=scorer.name, error=failed)] for scorer in self.scorers]
        assessments = [
            self._assessment(trace_id, scorer, verdict)
            for scorer, found in zip(self.scorers, verdicts, strict=True)
            for verdict in found
        ]
        return RowResult(
            row.index, trace_id, row.inputs, outputs, row.expectations, error, assessments
        )

    def _predict(self, row: EvalRow) -> tuple[str, Any, str | None]:
        with start_span(self.span_name, span_type="CHAIN", inputs=row.inputs) as span:
            if row.has_outputs or self.predict_fn is None:
                span.set_outputs(row.outputs)
                return span.trace_id, row.outputs, None
            try:
                outputs = self.predict_fn(**row.inputs)
            except Exception as exc:  # this row's failure; the other rows go on
                span.record_exception(exc)
                span.set_status("ERROR", f"{type(exc).__name__}: {exc}")
                return span.trace_id, None, f"{type(exc).__name__}: {exc}"
            span.set_outputs(outputs)
            return span.trace_id, outputs, None

    def _assessment(self, trace_id: str, scorer: Scorer, verdict: Feedback) -> Assessment:
        default = AssessmentSource(scorer.source_type, scorer.source_id)
        source = parse_source(verdict.source) if verdict.source is not None else default
        try:
            return build(
                trace_id,
                verdict.name or scorer.name,
                FEEDBACK,
                verdict.value,
                source,
                rationale=verdict.rationale,
                error=verdict.error,
                metadata=verdict.metadata,
                span_id=verdict.span_id,
                run_id=self.run_id,
            )
        except AssessmentError as error:  # e.g. a value that cannot be stored
            return build(
                trace_id, scorer.name, FEEDBACK, None, source, error=f"AssessmentError: {error}",
                run_id=self.run_id,
            )  # fmt: skip

    def expectations_of(self, result: RowResult) -> list[Assessment]:
        """A new trace's expectations, logged on it (a re-scored trace already has them)."""
        return [
            build(result.trace_id, key, EXPECTATION, value, AssessmentSource("HUMAN"),
                  run_id=self.run_id)
            for key, value in result.expectations.items()
        ]  # fmt: skip


class _TraceLoader:
    """The row's Trace, read from the store once, and only for scorers that ask for it."""

    def __init__(self, trace_id: str, store: str, given: Trace | None) -> None:
        self.trace_id, self.store, self.value = trace_id, store, given
        self.loaded = given is not None
        self.lock = threading.Lock()

    def __call__(self) -> Trace | None:
        with self.lock:
            if not self.loaded:
                self.value = get_trace(self.trace_id, store=self.store)
                self.loaded = True
            return self.value


def _pool(
    work: Callable[[EvalRow], RowResult], rows: list[EvalRow], workers: int
) -> Iterator[RowResult]:
    """Results as rows finish, from ``workers`` daemon threads (a hung row never blocks exit).

    Each row runs in a copy of the caller's context: its trace carries the active run."""
    todo: queue.SimpleQueue[EvalRow | None] = queue.SimpleQueue()
    done: queue.SimpleQueue[tuple[RowResult | None, BaseException | None]] = queue.SimpleQueue()
    stop = threading.Event()
    context = contextvars.copy_context()

    def worker() -> None:
        while not stop.is_set():
            row = todo.get()
            if row is None:
                return
            try:
                done.put((context.copy().run(work, row), None))
            except BaseException as error:
                done.put((None, error))

    for row in rows:
        todo.put(row)
    threads = [
        threading.Thread(target=worker, name=f"tracepond-evaluate-{i}", daemon=True)
        for i in range(min(workers, len(rows)))
    ]
    for thread in threads:
        todo.put(None)
        thread.start()
    try:
        for _ in rows:
            result, error = done.get()
            if error is not None:
                raise error
            assert result is not None
            yield result
    finally:
        stop.set()  # rows not started are dropped; a row that is running finishes on its own


class _Writer:
    """Writes finished rows' assessments from its own thread every 10 s (or 10,000 assessments),
    so the rows never wait for the store; ``close()`` writes the rest in the caller's thread.
    Few, large writes: each one takes the store file from the span writer for a while."""

    def __init__(self, store: str) -> None:
        self.store = store
        self.pending: list[Assessment] = []
        self.lock = threading.Lock()  # guards pending
        self.writing = threading.Lock()  # one write at a time, in order
        self.wake = threading.Event()
        self.closed = False
        self.thread = threading.Thread(
            target=self._run, name="tracepond-evaluate-writer", daemon=True
        )
        self.thread.start()

    def add(self, result: RowResult, expectations: list[Assessment]) -> None:
        with self.lock:
            self.pending.extend(expectations)
            self.pending.extend(result.assessments)
            full = len(self.pending) >= _BATCH_ASSESSMENTS
        if full:
            self.wake.set()

    def _run(self) -> None:
        while not self.closed:
            self.wake.wait(_BATCH_SECONDS)
            self.wake.clear()
            if self.closed:
                return
            # A failed batch goes back to pending: close() writes it, and raises if it fails.
            with contextlib.suppress(Exception):
                self.write()

    def write(self) -> None:
        with self.writing:
            with self.lock:
                batch, self.pending = self.pending, []
            if not batch:
                return
            try:
                apply_changes(self.store, Changes(insert=batch, known_traces=True))
            except BaseException:
                with self.lock:
                    self.pending[:0] = batch  # kept for the next try (Ctrl-C mid-write included)
                raise

    def close(self) -> None:
        """Stop the thread and write what is pending."""
        self.closed = True
        self.wake.set()
        self.thread.join()
        self.write()


def _log_metrics(finished: list[RowResult], run_id: str, store: str) -> dict[str, float]:
    metrics = aggregate(finished)
    if metrics:
        run_logging.log_metrics(metrics, run_id=run_id, store=store)
    return metrics


def _stop(writer: _Writer, finished: list[RowResult], run_id: str, store: str, total: int) -> None:
    """After Ctrl-C: keep the finished rows, end the run KILLED (a second Ctrl-C wins)."""
    writer.close()
    _log_metrics(finished, run_id, store)
    runs.end_run(runs.KILLED, run_id=run_id, store=store)
    logger.warning(
        "evaluation interrupted: kept %d of %d rows in run %s", len(finished), total, run_id
    )


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; otherwise nothing is drawn."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("evaluating", total=total)
        yield lambda: progress.advance(task)
