"""What the runs, models and registry API returns: plain frozen dataclasses.

The errors raised on bad input (RunError, ExperimentConflictError, ModelLoadError,
ModelInputError) are in :mod:`tracepond.errors` with the others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any


def _as_dict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


@dataclasses.dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    description: str | None
    tags: dict[str, str]
    creation_time: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclasses.dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    name: str | None
    status: str  # RUNNING | FINISHED | FAILED | KILLED
    start_time: dt.datetime
    end_time: dt.datetime | None
    parent_run_id: str | None
    artifact_uri: str


@dataclasses.dataclass(frozen=True)
class Metric:
    key: str
    value: float
    step: int
    timestamp: dt.datetime


@dataclasses.dataclass(frozen=True)
class RunData:
    params: dict[str, str]
    metrics: dict[str, float]  # the latest value of each key (highest step, then latest time)
    tags: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData

    def to_dict(self) -> dict[str, Any]:
        return {"info": _as_dict(self.info), "data": _as_dict(self.data)}


@dataclasses.dataclass(frozen=True)
class LoggedModel:
    """A model record: what `set_active_model` and `log_model` create; traces link to it."""

    model_id: str
    name: str
    experiment_id: str | None
    run_id: str | None
    params: dict[str, str]
    creation_time: dt.datetime
    artifact_location: str | None  # None for a record made by set_active_model only
    source_kind: str | None  # 'pickle' | 'code' | None
    signature: dict[str, Any] | None  # {"inputs": JSON Schema, "output": JSON Schema}
    requirements: list[str]
    code_version: str | None  # the git commit the model was logged from

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"

    def to_dict(self) -> dict[str, Any]:
        return {**_as_dict(self), "model_uri": self.model_uri}


@dataclasses.dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str | None
    creation_time: dt.datetime
    last_updated_time: dt.datetime
    latest_version: int | None
    aliases: dict[str, int]  # alias -> version


@dataclasses.dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    model_id: str
    source: str  # the URI or id it was registered from
    run_id: str | None
    description: str | None
    creation_time: dt.datetime
    tags: dict[str, str]
    aliases: list[str]

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclasses.dataclass(frozen=True)
class ModelStats:
    """How a model's traces went; `version` is None for a logged model's own row."""

    model_id: str
    name: str
    version: int | None
    trace_count: int
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    error_rate: float
    input_tokens: int
    output_tokens: int
    cost_usd: float

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)
