"""Evaluation datasets: named, versioned sets of records to evaluate on.

    ds = tracepond.create_dataset("refund-questions")
    ds.merge_records([{"inputs": {"question": "..."}, "expectations": {"expected_response": "..."}}])
    ds.merge_records(tracepond.search_traces(filter="tags.env = 'prod'"))   # from traces
    ds.merge_records(frame)  or  ds.merge_records("records.jsonl")         # pandas, JSONL
    tracepond.get_dataset("refund-questions", version=1).to_df()
    ds.to_jsonl("refund-questions.jsonl")

A record is ``inputs`` (required), ``expectations``, ``outputs``, ``tags`` and the trace it came
from. Records are identified by their inputs (MLflow's merge rule): merging a record whose inputs
are already there merges its expectations into the stored ones. Each ``merge_records`` makes a new
version; every version can be read back as it was, and ``evaluate()`` records the version it used.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson

from tracepond.errors import AssessmentError, NotFoundError
from tracepond.store.assessments import EXPECTATION
from tracepond.store.trace import Trace
from tracepond.tracking import db


@dataclass(frozen=True)
class DatasetRecord:
    inputs: dict[str, Any]
    expectations: dict[str, Any] = field(default_factory=dict)
    outputs: Any = None
    source_trace_id: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def record_id(self) -> str:
        canonical = orjson.dumps(self.inputs, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        return hashlib.sha256(canonical).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "expectations": self.expectations,
            "outputs": self.outputs,
            "source_trace_id": self.source_trace_id,
            "tags": self.tags,
        }


class EvaluationDataset:
    """A dataset at one version (``version`` 0: created, no records yet)."""

    def __init__(self, row: dict[str, Any], version: int, store: str) -> None:
        self.dataset_id: str = row["dataset_id"]
        self.name: str = row["name"]
        self.description: str | None = row["description"]
        self.tags: dict[str, Any] = orjson.loads(row["tags"]) if row["tags"] else {}
        self.create_time = row["create_time"]
        self.version = version
        self.store = store
        self._records: list[DatasetRecord] | None = None

    def __repr__(self) -> str:
        return f"<EvaluationDataset {self.name!r} version={self.version}>"

    def __len__(self) -> int:
        return len(self.records())

    def records(self) -> list[dict[str, Any]]:
        """The records of this version, as ``{"inputs", "expectations", "outputs", ...}`` dicts."""
        if self._records is None:
            self._records = db.read(
                self.store, lambda c: _records_at(c, self.dataset_id, self.version)
            )
        return [record.to_dict() for record in self._records]

    def merge_records(self, records: Any) -> EvaluationDataset:
        """Add or update records (dicts, Traces, a DataFrame or a JSONL path): a new version.

        A record without ``inputs`` is an AssessmentError naming it, and nothing is written."""
        incoming = _as_records(records)
        version = db.write(self.store, lambda conn: _merge(conn, self.dataset_id, incoming))
        self.version, self._records = version, None
        return self

    def to_df(self) -> Any:
        import pandas

        return pandas.DataFrame.from_records(self.records())

    def to_jsonl(self, path: str | os.PathLike[str]) -> Path:
        """Write the records, one JSON object a line; returns the path."""
        target = Path(path)
        lines = [
            orjson.dumps(r, option=orjson.OPT_NON_STR_KEYS, default=str) for r in self.records()
        ]
        target.write_bytes(b"".join(line + b"\n" for line in lines))
        return target


def create_dataset(
    name: str,
    *,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    store: str | None = None,
) -> EvaluationDataset:
    """A new, empty dataset; AssessmentError when the name is taken (use get_dataset)."""
    if not isinstance(name, str) or not name.strip():
        raise AssessmentError(f"a dataset name is a non-empty string, not {name!r}")
    path = db.resolve_store(store)
    tag_text = orjson.dumps(dict(tags or {}), default=str).decode()

    def work(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        if _find(conn, name) is not None:
            raise AssessmentError(f"a dataset named {name!r} already exists; get_dataset({name!r})")
        now = db.utcnow()
        conn.execute(
            "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?)",
            [uuid.uuid4().hex, name, description, tag_text, now, now],
        )
        found = _find(conn, name)
        assert found is not None
        return found

    return EvaluationDataset(db.write(path, work), 0, path)


def get_dataset(
    name: str, *, version: int | None = None, store: str | None = None
) -> EvaluationDataset:
    """The dataset at its latest version (or ``version``); NotFoundError naming what exists."""
    path = db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> EvaluationDataset:
        found = _find(conn, name)
        if found is None:
            names = [
                r[0] for r in conn.execute("SELECT name FROM datasets ORDER BY name").fetchall()
            ]
            known = (
                f"; the datasets are: {', '.join(map(repr, names))}"
                if names
                else "; there are none yet"
            )
            raise NotFoundError(f"no dataset named {name!r}{known}")
        latest = _latest_version(conn, found["dataset_id"])
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)
                                    or not 0 <= version <= latest):  # fmt: skip
            raise NotFoundError(f"dataset {name!r} has versions 0 to {latest}, not {version!r}")
        return EvaluationDataset(found, latest if version is None else version, path)

    return db.read(path, work)


def _find(conn: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any] | None:
    rows = db.fetch_dicts(conn, "SELECT * FROM datasets WHERE name = ?", [name])
    return rows[0] if rows else None


def _latest_version(conn: duckdb.DuckDBPyConnection, dataset_id: str) -> int:
    row = conn.execute(
        "SELECT coalesce(max(version), 0) FROM dataset_versions WHERE dataset_id = ?", [dataset_id]
    ).fetchall()[0]
    return int(row[0])


def _records_at(
    conn: duckdb.DuckDBPyConnection, dataset_id: str, version: int
) -> list[DatasetRecord]:
    rows = conn.execute(
        "SELECT inputs, expectations, outputs, source_trace_id, tags FROM dataset_records "
        "WHERE dataset_id = ? AND added_in <= ? AND (removed_in IS NULL OR removed_in > ?) "
        "ORDER BY added_in, record_id",
        [dataset_id, version, version],
    ).fetchall()
    return [
        DatasetRecord(orjson.loads(i), orjson.loads(e) if e else {},
                      orjson.loads(o) if o is not None else None, t, orjson.loads(g) if g else {})
        for i, e, o, t, g in rows
    ]  # fmt: skip


def _merge(conn: duckdb.DuckDBPyConnection, dataset_id: str, incoming: list[DatasetRecord]) -> int:
    version = _latest_version(conn, dataset_id) + 1
    current = {r.record_id: r for r in _records_at(conn, dataset_id, version - 1)}
    changed: dict[str, DatasetRecord] = {}
    for record in incoming:
        key = record.record_id
        base = changed.get(key) or current.get(key)
        merged = record if base is None else DatasetRecord(
            base.inputs, {**base.expectations, **record.expectations},
            record.outputs if record.outputs is not None else base.outputs,
            record.source_trace_id or base.source_trace_id, {**base.tags, **record.tags},
        )  # fmt: skip
        if merged != current.get(key):
            changed[key] = merged
    if changed:
        conn.execute(
            "UPDATE dataset_records SET removed_in = ? WHERE dataset_id = ? AND removed_in IS NULL "
            "AND record_id IN (SELECT unnest(?::VARCHAR[]))",
            [version, dataset_id, list(changed)],
        )
        conn.executemany(
            "INSERT INTO dataset_records VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?)",
            [(dataset_id, key, version, _json(r.inputs), _json(r.expectations), _json(r.outputs),
              r.source_trace_id, _json(r.tags)) for key, r in changed.items()],
        )  # fmt: skip
    count = len({**current, **changed})
    now = db.utcnow()
    conn.execute(
        "INSERT INTO dataset_versions VALUES (?, ?, ?, ?)", [dataset_id, version, now, count]
    )
    conn.execute("UPDATE datasets SET last_update_time = ? WHERE dataset_id = ?", [now, dataset_id])
    return version


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# --- what merge_records accepts ----------------------------------------------------------------


def _as_records(records: Any) -> list[DatasetRecord]:
    if isinstance(records, str | os.PathLike):
        return _from_jsonl(Path(records))
    if hasattr(records, "to_dict") and hasattr(records, "columns"):
        records = records.to_dict("records")
    if isinstance(records, Mapping | Trace):
        records = [records]
    if not isinstance(records, Sequence | Iterable):
        raise AssessmentError(
            f"records must be dicts, Traces, a DataFrame or a JSONL path, not {records!r}"
        )
    converted = [_record(index, item) for index, item in enumerate(list(records))]
    if not converted:
        raise AssessmentError("no records to merge")
    return converted


def _record(index: int, item: Any) -> DatasetRecord:
    if isinstance(item, Trace):
        return trace_record(item)
    if not isinstance(item, Mapping):
        raise AssessmentError(f"record {index} is a {type(item).__name__}, not a dict or a Trace")
    inputs = item.get("inputs")
    if not isinstance(inputs, Mapping) or not inputs:
        raise AssessmentError(
            f"record {index} has no 'inputs' (a non-empty dict); nothing was merged"
        )
    expectations = item.get("expectations") or {}
    if not isinstance(expectations, Mapping):
        raise AssessmentError(
            f"record {index}: 'expectations' must be a dict, not {expectations!r}"
        )
    outputs = item.get("outputs")
    if isinstance(outputs, float) and outputs != outputs:  # a DataFrame's empty cell
        outputs = None
    for value, what in ((inputs, "inputs"), (expectations, "expectations"), (outputs, "outputs")):
        try:
            _json(value)
        except TypeError as error:
            raise AssessmentError(
                f"record {index}: {what} cannot be stored as JSON ({error})"
            ) from None
    return DatasetRecord(dict(inputs), dict(expectations), outputs,
                         item.get("source_trace_id"), dict(item.get("tags") or {}))  # fmt: skip


def trace_record(trace: Trace) -> DatasetRecord:
    """A trace as a record: its root span's inputs and outputs, its valid expectations."""
    raw = trace.info.inputs
    expectations = {
        a.name: a.value for a in trace.info.assessments if a.kind == EXPECTATION and a.valid
    }
    inputs = dict(raw) if isinstance(raw, Mapping) else {"inputs": raw}
    return DatasetRecord(inputs, expectations, trace.info.outputs, trace.trace_id)


def _from_jsonl(path: Path) -> list[DatasetRecord]:
    if not path.is_file():
        raise AssessmentError(f"no JSONL file at {path}")
    items = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if line.strip():
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as error:
                raise AssessmentError(f"{path} line {number} is not JSON: {error}") from None
    return [_record(index, item) for index, item in enumerate(items)]
