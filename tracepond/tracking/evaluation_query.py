"""Reading evaluations back: the list of evaluation runs, one run's rows, two runs compared.

Shared by ``tracepond eval list|show|compare`` and the viewer's Evaluations page. An evaluation
is a run tagged ``tracepond.evaluation``; its rows are the traces holding feedback with its
run_id (a re-scored trace belongs to another run, yet its verdicts carry this one). Two runs are
compared row by row on the rows' inputs; a row regressed when a scorer's value dropped (numbers,
bools and yes/no compared as 1/0) or a verdict turned into an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson

from tracepond.errors import NotFoundError
from tracepond.tracking import db
from tracepond.tracking.evaluation import DATASET_TAG, DATASET_VERSION_TAG, EVALUATION_TAG
from tracepond.tracking.scoring import numeric


@dataclass(frozen=True)
class EvaluationSummary:
    run_id: str
    name: str | None
    experiment: str
    status: str
    start_time: dt.datetime | None
    metrics: dict[str, float]
    rows: int
    dataset: str | None  # "name@version"

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["start_time"] = self.start_time.isoformat() if self.start_time else None
        return data


@dataclass(frozen=True)
class Verdict:
    value: Any
    rationale: str | None
    error: str | None
    source_id: str | None


@dataclass(frozen=True)
class EvaluatedRow:
    trace_id: str
    inputs: Any
    outputs: Any
    expectations: dict[str, Any]
    status: str
    scores: dict[str, Verdict] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["scores"] = {k: v.__dict__ for k, v in self.scores.items()}
        return data


@dataclass(frozen=True)
class RowChange:
    key: str  # the inputs, as JSON text
    a: EvaluatedRow | None
    b: EvaluatedRow | None
    changed: list[str]  # scorers whose verdict differs
    regressed: list[str]  # scorers whose verdict got worse

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "a": self.a.to_dict() if self.a else None,
            "b": self.b.to_dict() if self.b else None,
            "changed": self.changed,
            "regressed": self.regressed,
        }


@dataclass(frozen=True)
class Comparison:
    a: EvaluationSummary
    b: EvaluationSummary
    scorers: list[str]
    means: dict[str, tuple[float | None, float | None]]
    rows: list[RowChange]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "scorers": self.scorers,
            "means": {k: list(v) for k, v in self.means.items()},
            "rows": [r.to_dict() for r in self.rows],
        }


_SUMMARY = """
SELECT r.run_id, r.name, e.name AS experiment, r.status, r.start_time,
       (SELECT count(DISTINCT a.trace_id) FROM assessments a
         WHERE a.run_id = r.run_id AND a.kind = 'feedback') AS row_count,
       (SELECT value FROM run_tags t WHERE t.run_id = r.run_id AND t.key = ?) AS dataset,
       (SELECT value FROM run_tags t WHERE t.run_id = r.run_id AND t.key = ?) AS dataset_version
FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id
WHERE r.run_id IN (SELECT run_id FROM run_tags WHERE key = ? AND value = 'true')
"""


def _summaries(
    conn: duckdb.DuckDBPyConnection, extra: str, params: list[Any]
) -> list[EvaluationSummary]:
    rows = db.fetch_dicts(
        conn, _SUMMARY + extra, [DATASET_TAG, DATASET_VERSION_TAG, EVALUATION_TAG, *params]
    )
    ids = [row["run_id"] for row in rows]
    metrics: dict[str, dict[str, float]] = {run_id: {} for run_id in ids}
    if ids:
        for run_id, key, value in conn.execute(
            "SELECT run_id, key, value FROM latest_metrics WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
            [ids],
        ).fetchall():
            metrics[run_id][key] = value
    return [
        EvaluationSummary(
            row["run_id"], row["name"], row["experiment"], row["status"], row["start_time"],
            metrics[row["run_id"]], int(row["row_count"] or 0),
            f"{row['dataset']}@{row['dataset_version']}" if row["dataset"] else None,
        )
        for row in rows
    ]  # fmt: skip


def list_evaluations(
    *, experiment: str | None = None, max_results: int = 100, store: str | None = None
) -> list[EvaluationSummary]:
    """Evaluation runs, newest first."""
    path = db.resolve_store(store)
    extra, params = "", []
    if experiment is not None:
        extra, params = " AND e.name = ?", [experiment]
    extra += " ORDER BY r.start_time DESC, r.run_id LIMIT ?"
    return db.read(path, lambda conn: _summaries(conn, extra, [*params, max_results]))


def get_evaluation(
    run_id: str, *, store: str | None = None
) -> tuple[EvaluationSummary, list[EvaluatedRow]]:
    """One evaluation run and its rows (oldest trace first); NotFoundError when it is not one."""
    path = db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> tuple[EvaluationSummary, list[EvaluatedRow]]:
        found = _summaries(conn, " AND (r.run_id = ? OR r.name = ?)", [run_id, run_id])
        if not found:
            raise NotFoundError(f"no evaluation run with id or name {run_id!r}")
        if len(found) > 1:
            raise NotFoundError(f"{len(found)} evaluation runs are named {run_id!r}; give a run id")
        return found[0], _rows(conn, found[0].run_id)

    return db.read(path, work)


def _rows(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[EvaluatedRow]:
    traces = db.fetch_dicts(
        conn,
        "SELECT trace_id, inputs, outputs, status, start_time FROM traces WHERE trace_id IN "
        "(SELECT trace_id FROM assessments WHERE run_id = ?) ORDER BY start_time, trace_id",
        [run_id],
    )
    judged = db.fetch_dicts(
        conn,
        "SELECT trace_id, name, kind, value, rationale, error, source_id, run_id FROM assessments "
        "WHERE valid AND trace_id IN (SELECT trace_id FROM assessments WHERE run_id = ?) "
        "ORDER BY create_time",
        [run_id],
    )
    scores: dict[str, dict[str, Verdict]] = {}
    expected: dict[str, dict[str, Any]] = {}
    for a in judged:
        value = orjson.loads(a["value"]) if a["value"] is not None else None
        if a["kind"] == "expectation":
            expected.setdefault(a["trace_id"], {})[a["name"]] = value
        elif a["run_id"] == run_id:
            scores.setdefault(a["trace_id"], {})[a["name"]] = Verdict(
                value, a["rationale"], a["error"], a["source_id"]
            )
    return [
        EvaluatedRow(t["trace_id"], _json(t["inputs"]), _json(t["outputs"]),
                     expected.get(t["trace_id"], {}), t["status"] or "UNSET",
                     scores.get(t["trace_id"], {}))
        for t in traces
    ]  # fmt: skip


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def compare_evaluations(run_a: str, run_b: str, *, store: str | None = None) -> Comparison:
    """Run B against run A: per-scorer means and every row whose verdicts changed."""
    a, rows_a = get_evaluation(run_a, store=store)
    b, rows_b = get_evaluation(run_b, store=store)
    scorers = sorted({n for r in (*rows_a, *rows_b) for n in r.scores})
    means = {name: (_mean(rows_a, name), _mean(rows_b, name)) for name in scorers}
    by_a, by_b = _by_inputs(rows_a), _by_inputs(rows_b)
    changes = []
    for key in [*by_a, *(k for k in by_b if k not in by_a)]:
        left, right = by_a.get(key), by_b.get(key)
        changed, regressed = _differences(left, right, scorers)
        if changed or left is None or right is None:
            changes.append(RowChange(key, left, right, changed, regressed))
    return Comparison(a, b, scorers, means, changes)


def _by_inputs(rows: list[EvaluatedRow]) -> dict[str, EvaluatedRow]:
    keyed: dict[str, EvaluatedRow] = {}
    for row in rows:
        key = orjson.dumps(row.inputs, option=orjson.OPT_SORT_KEYS).decode()
        keyed.setdefault(key, row)
    return keyed


def _mean(rows: list[EvaluatedRow], name: str) -> float | None:
    values = [
        numeric(r.scores[name].value) for r in rows if name in r.scores and not r.scores[name].error
    ]
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _differences(
    a: EvaluatedRow | None, b: EvaluatedRow | None, scorers: list[str]
) -> tuple[list[str], list[str]]:
    if a is None or b is None:
        return [], []
    changed, regressed = [], []
    for name in scorers:
        left, right = a.scores.get(name), b.scores.get(name)
        if _shown(left) == _shown(right):
            continue
        changed.append(name)
        if _worse(left, right):
            regressed.append(name)
    return changed, regressed


def _shown(verdict: Verdict | None) -> Any:
    return None if verdict is None else (verdict.value, verdict.error)


def _worse(a: Verdict | None, b: Verdict | None) -> bool:
    if a is None or b is None:
        return False
    if b.error and not a.error:
        return True
    left, right = numeric(a.value), numeric(b.value)
    return left is not None and right is not None and right < left


def as_text(value: Any, limit: int = 60) -> str:
    """A short one-line rendering of a value for tables."""
    if isinstance(value, Mapping) and len(value) == 1:
        value = next(iter(value.values()))
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
