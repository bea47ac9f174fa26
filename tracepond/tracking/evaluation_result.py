"""What ``evaluate()`` returns: the run, the aggregate metrics, and every row's verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracepond.store.assessments import Assessment
from tracepond.tracking.scoring import numeric


@dataclass(frozen=True)
class RowResult:
    index: int
    trace_id: str
    inputs: dict[str, Any]
    outputs: Any
    expectations: dict[str, Any]
    error: str | None  # predict_fn's failure on this row
    assessments: list[Assessment] = field(default_factory=list)  # the feedback of this row


@dataclass(frozen=True)
class EvaluationResult:
    """``run_id``, ``metrics`` ({"NAME/mean": ...}), ``rows``; ``df()`` as a DataFrame."""

    run_id: str
    metrics: dict[str, float]
    rows: list[RowResult]
    dataset: tuple[str, int] | None = None
    interrupted: bool = False

    def df(self) -> Any:
        """One row per evaluated row: trace_id, inputs, outputs, expectations, error, and for
        each scorer ``NAME/value``, ``NAME/rationale``, ``NAME/error``."""
        import pandas

        records = []
        for row in self.rows:
            record: dict[str, Any] = {
                "trace_id": row.trace_id,
                "inputs": row.inputs,
                "outputs": row.outputs,
                "expectations": row.expectations,
                "error": row.error,
            }
            for assessment in row.assessments:
                record[f"{assessment.name}/value"] = assessment.value
                record[f"{assessment.name}/rationale"] = assessment.rationale
                record[f"{assessment.name}/error"] = assessment.error
            records.append(record)
        return pandas.DataFrame.from_records(records)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.3g}" for k, v in self.metrics.items())
        return f"EvaluationResult(run_id={self.run_id!r}, rows={len(self.rows)}, {shown})"


def aggregate(rows: Sequence[RowResult]) -> dict[str, float]:
    """``NAME/mean`` over every feedback with a numeric value and no error (bools and yes/no
    count as 1/0); a scorer with no numeric value gets no mean."""
    values: dict[str, list[float]] = {}
    for row in rows:
        for assessment in row.assessments:
            number = None if assessment.error else numeric(assessment.value)
            bucket = values.setdefault(assessment.name, [])
            if number is not None:
                bucket.append(number)
    return {f"{name}/mean": sum(vs) / len(vs) for name, vs in values.items() if vs}
