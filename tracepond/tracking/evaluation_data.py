"""What ``evaluate()`` accepts as ``data``, turned into rows before anything runs.

- a list of dicts ``{"inputs": {...}, "expectations": {...}, "outputs": ...}`` (``outputs`` only
  when there is no ``predict_fn``: the answers were produced elsewhere);
- a pandas DataFrame with those columns;
- a list of :class:`~tracepond.store.model.Trace`: re-scored as they are (their root span's
  inputs and outputs, their expectation assessments), no ``predict_fn``;
- an evaluation dataset (:mod:`tracepond.tracking.datasets`): its records at its version.

Every problem (a row without ``inputs``, a trace mixed with dicts, ``predict_fn`` given with
traces) is an AssessmentError naming the row, raised before a run is started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracepond.errors import AssessmentError
from tracepond.store.trace import Trace
from tracepond.tracking.datasets import EvaluationDataset, trace_record


@dataclass(frozen=True)
class EvalRow:
    index: int
    inputs: dict[str, Any]
    expectations: dict[str, Any] = field(default_factory=dict)
    outputs: Any = None
    has_outputs: bool = False
    trace: Trace | None = None  # set when re-scoring a recorded trace


@dataclass(frozen=True)
class EvalData:
    rows: list[EvalRow]
    dataset: tuple[str, int] | None = None  # (name, version) of a dataset


def prepare(data: Any, predict_fn: Callable[..., Any] | None) -> EvalData:
    """The rows of ``data``; AssessmentError for anything evaluate() cannot run."""
    if predict_fn is not None and not callable(predict_fn):
        raise AssessmentError(f"predict_fn must be callable, not {predict_fn!r}")
    dataset = _dataset_of(data)
    if dataset is not None:
        records, where = dataset.records(), (dataset.name, dataset.version)
        return EvalData(_dict_rows(records, predict_fn), where)
    if _is_dataframe(data):
        return EvalData(_dict_rows(data.to_dict("records"), predict_fn))
    if isinstance(data, Mapping | str | bytes) or not isinstance(data, Sequence):
        raise AssessmentError(
            "data must be a list of {'inputs': ..., 'expectations': ...} dicts, a pandas "
            f"DataFrame, a list of Traces or a dataset, not {type(data).__name__}"
        )
    if not data:
        raise AssessmentError("data is empty: there is nothing to evaluate")
    if all(isinstance(item, Trace) for item in data):
        if predict_fn is not None:
            raise AssessmentError(
                "traces are re-scored as they are: pass predict_fn=None with a list of Traces"
            )
        return EvalData([_trace_row(i, trace) for i, trace in enumerate(data)])
    if any(isinstance(item, Trace) for item in data):
        raise AssessmentError("data mixes Traces with other rows; pass one kind")
    return EvalData(_dict_rows(list(data), predict_fn))


def _dataset_of(data: Any) -> EvaluationDataset | None:
    return data if isinstance(data, EvaluationDataset) else None


def _is_dataframe(data: Any) -> bool:
    return hasattr(data, "to_dict") and hasattr(data, "columns") and hasattr(data, "iloc")


def _dict_rows(items: Sequence[Any], predict_fn: Callable[..., Any] | None) -> list[EvalRow]:
    if not items:
        raise AssessmentError("data is empty: there is nothing to evaluate")
    return [_dict_row(index, item, predict_fn) for index, item in enumerate(items)]


def _dict_row(index: int, item: Any, predict_fn: Callable[..., Any] | None) -> EvalRow:
    if not isinstance(item, Mapping):
        raise AssessmentError(f"row {index} is a {type(item).__name__}, not a dict with 'inputs'")
    inputs = item.get("inputs")
    if not isinstance(inputs, Mapping) or not inputs:
        found = "has no 'inputs'" if inputs is None else f"has inputs {inputs!r}"
        raise AssessmentError(
            f"row {index} {found}: each row needs 'inputs', a non-empty dict of the arguments "
            "predict_fn is called with (e.g. {'inputs': {'question': '...'}})"
        )
    bad_keys = [key for key in inputs if not isinstance(key, str) or not key.isidentifier()]
    if bad_keys:
        raise AssessmentError(f"row {index}: input names must be identifiers, not {bad_keys!r}")
    expectations = item.get("expectations")
    if expectations is None or _is_missing(expectations):
        expectations = {}
    if not isinstance(expectations, Mapping):
        raise AssessmentError(f"row {index}: 'expectations' must be a dict, not {expectations!r}")
    has_outputs = "outputs" in item and not _is_missing(item.get("outputs"))
    if predict_fn is None and not has_outputs:
        raise AssessmentError(
            f"row {index} has no 'outputs' and there is no predict_fn to produce them"
        )
    return EvalRow(
        index,
        dict(inputs),
        dict(expectations),
        item.get("outputs") if predict_fn is None else None,
        has_outputs and predict_fn is None,
    )


def _is_missing(value: Any) -> bool:
    """A DataFrame cell left empty (NaN)."""
    return isinstance(value, float) and value != value


def _trace_row(index: int, trace: Trace) -> EvalRow:
    record = trace_record(trace)
    return EvalRow(index, record.inputs, record.expectations, record.outputs, True, trace)
