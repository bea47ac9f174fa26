"""Logged models: the record traces link to, a Python model saved with it, and loading it back.

    tracepond.set_active_model(name="support-bot", params={"prompt": "v2"})  # traces link here
    info = tracepond.log_model(answer, name="support-bot")                   # save a model
    model = tracepond.load_model(info.model_uri)                            # ready to call
    model.predict("How do I reset my password?")                           # traced, validated

A model is a function or an object with `predict` (a class with `predict` is instantiated with
no arguments). It is saved by value with cloudpickle, or from code: pass the path of a .py file
and name the object with `entry=` (default: its `model` attribute, else its one class with a
`predict` method). Requirements are inferred from the imports of the defining source when not
given, and the git commit of the code is recorded when it sits in a repository.

Saving by value follows cloudpickle: functions and classes of an importable module are saved by
reference (that module must be importable where the model loads); those of ``__main__``, a
notebook or a closure are saved whole. Loading a pickled model runs code: load only models from
stores you trust.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from tracepond.errors import ModelLoadError, NotFoundError, RunError
from tracepond.tracking import db as runs_db
from tracepond.tracking import model_files as models_io
from tracepond.tracking import runs
from tracepond.tracking.entities import LoggedModel
from tracepond.tracking.signature import ModelSignature, predict_function

if TYPE_CHECKING:
    from tracepond.tracing.spans import LiveSpan

_COLUMNS = (
    "model_id, name, experiment_id, run_id, params, creation_time, artifact_location, "
    "source_kind, signature, requirements, code_version"
)


def model_from_row(row: dict[str, Any]) -> LoggedModel:
    return LoggedModel(
        model_id=row["model_id"],
        name=row["name"],
        experiment_id=row["experiment_id"],
        run_id=row["run_id"],
        params=orjson.loads(row["params"]),
        creation_time=row["creation_time"],
        artifact_location=row["artifact_location"],
        source_kind=row["source_kind"],
        signature=orjson.loads(row["signature"]) if row["signature"] else None,
        requirements=orjson.loads(row["requirements"]) if row["requirements"] else [],
        code_version=row["code_version"],
    )


def find_model(conn: duckdb.DuckDBPyConnection, model_id: str) -> LoggedModel | None:
    rows = runs_db.fetch_dicts(
        conn, f"SELECT {_COLUMNS} FROM models WHERE model_id = ?", [model_id]
    )
    return model_from_row(rows[0]) if rows else None


def get_logged_model(model_id: str, *, store: str | None = None) -> LoggedModel:
    """The model record with that id; NotFoundError if there is none."""
    path = runs_db.resolve_store(store)
    found = runs_db.read(path, lambda conn: find_model(conn, model_id))
    if found is None:
        raise NotFoundError(f"no logged model with id {model_id!r} in {path}")
    return found


def _new_model_id() -> str:
    return f"m-{uuid.uuid4().hex}"


def _insert(conn: duckdb.DuckDBPyConnection, model: LoggedModel) -> None:
    conn.execute(
        f"INSERT INTO models ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            model.model_id,
            model.name,
            model.experiment_id,
            model.run_id,
            orjson.dumps(model.params).decode(),
            model.creation_time,
            model.artifact_location,
            model.source_kind,
            orjson.dumps(model.signature).decode() if model.signature is not None else None,
            orjson.dumps(model.requirements).decode(),
            model.code_version,
        ],
    )


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or "/" in name or "@" in name:
        raise RunError(f"a model name is a non-empty string without '/' or '@', got {name!r}")
    return name


def set_active_model(
    name: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    model_id: str | None = None,
    store: str | None = None,
) -> LoggedModel:
    """Link every trace started after this (in this context) to a logged model.

    By `model_id`, or by `name`: the latest model of that name (with those `params`, when given)
    is reused, else a new record is created, linked to the active run if there is one.
    """
    from tracepond.tracing import context

    path = runs_db.resolve_store(store)
    if model_id is not None:
        found = get_logged_model(model_id, store=path)
    elif name is not None:
        found = _get_or_create(
            path, _check_name(name), {str(k): str(v) for k, v in (params or {}).items()}
        )
    else:
        raise RunError("set_active_model needs name= or model_id=")
    context.set_active_model_id(found.model_id)
    return found


def _get_or_create(store: str, name: str, params: dict[str, str]) -> LoggedModel:
    active = runs.active_run()

    def work(conn: duckdb.DuckDBPyConnection) -> LoggedModel:
        rows = runs_db.fetch_dicts(
            conn,
            f"SELECT {_COLUMNS} FROM models WHERE name = ? ORDER BY creation_time DESC",
            [name],
        )
        for row in rows:
            candidate = model_from_row(row)
            if not params or candidate.params == params:
                return candidate
        created = LoggedModel(
            model_id=_new_model_id(),
            name=name,
            experiment_id=active.experiment_id if active else None,
            run_id=active.run_id if active else None,
            params=params,
            creation_time=runs_db.utcnow(),
            artifact_location=None,
            source_kind=None,
            signature=None,
            requirements=[],
            code_version=None,
        )
        _insert(conn, created)
        return created

    return runs_db.write(store, work)


# --- log_model --------------------------------------------------------------------------------


def _entry_of(module: Any, entry: str | None, path: Path) -> tuple[str, Any]:
    """(name, object) of the model a code file defines."""
    if entry is not None:
        if not hasattr(module, entry):
            raise RunError(f"{path} defines no {entry!r}")
        return entry, getattr(module, entry)
    if hasattr(module, "model"):
        return "model", module.model
    classes = [
        (n, obj)
        for n, obj in vars(module).items()
        if inspect.isclass(obj)
        and obj.__module__ == module.__name__
        and callable(getattr(obj, "predict", None))
    ]
    if len(classes) == 1:
        return classes[0]
    raise RunError(
        f"{path} defines no `model` and {len(classes)} classes with predict; name one with entry="
    )


def _instance(model: Any) -> Any:
    """A class with predict becomes an instance; functions and instances stay as they are."""
    if inspect.isclass(model):
        if not callable(getattr(model, "predict", None)):
            raise RunError(f"class {model.__name__} has no predict method")
        return model()
    predict_function(model)  # raises TypeError for something that cannot be called
    return model


def _prepare(
    python_model: Any, entry: str | None, requirements: list[str] | None
) -> tuple[dict[str, Any], bytes | None, Path | None, Any]:
    """(metadata, pickle payload, code file, live model) of what log_model was given."""
    if isinstance(python_model, (str, Path)):
        code = Path(python_model).resolve()
        if not code.is_file() or code.suffix != ".py":
            raise RunError(f"a model from code is a path to a .py file; {code} is not one")
        try:
            module = models_io.import_code(code, f"tracepond_logging_{uuid.uuid4().hex}")
        except Exception as exc:
            raise RunError(f"importing {code} failed: {type(exc).__name__}: {exc}") from exc
        try:
            entry_name, found = _entry_of(module, entry, code)
            live = _instance(found)
        finally:
            sys.modules.pop(module.__name__, None)
        metadata: dict[str, Any] = {
            "source_kind": "code",
            "code_file": code.name,
            "entry": entry_name,
        }
        source: str | None = code.read_text()
        payload, commit_from = None, code
        extra: tuple[str, ...] = ()
    else:
        live = _instance(python_model)
        metadata = {"source_kind": "pickle", "python_class": type(live).__qualname__}
        source, code, extra = models_io.source_of(live), None, ("cloudpickle",)
        payload = models_io.dumps(live)
        module_file = getattr(
            inspect.getmodule(live if inspect.isroutine(live) else type(live)), "__file__", None
        )
        commit_from = Path(module_file) if module_file else Path.cwd()
    metadata["requirements"] = (
        list(requirements)
        if requirements is not None
        else models_io.infer_requirements(source, extra)
    )
    metadata["code_version"] = models_io.git_commit(commit_from)
    metadata["python_version"] = ".".join(map(str, sys.version_info[:3]))
    return metadata, payload, code, live


def log_model(
    python_model: Any,
    name: str,
    *,
    entry: str | None = None,
    requirements: list[str] | None = None,
    params: Mapping[str, Any] | None = None,
    store: str | None = None,
) -> LoggedModel:
    """Save a Python model and record it; returns its info (`model_id`, `model_uri`).

    Inside a run the model belongs to that run, and "runs:/<run_id>/<name>" names it.
    """
    path = runs_db.resolve_store(store)
    _check_name(name)
    metadata, payload, code, live = _prepare(python_model, entry, requirements)
    signature = ModelSignature(predict_function(live)).to_json()
    model_id = _new_model_id()
    folder = runs_db.artifact_root(path) / "models" / model_id
    active = runs.active_run()
    record = LoggedModel(
        model_id=model_id,
        name=name,
        experiment_id=active.experiment_id if active else None,
        run_id=active.run_id if active else None,
        params={str(k): str(v) for k, v in (params or {}).items()},
        creation_time=runs_db.utcnow(),
        artifact_location=str(folder),
        source_kind=metadata["source_kind"],
        signature=signature,
        requirements=metadata["requirements"],
        code_version=metadata["code_version"],
    )
    models_io.save(
        folder,
        {**metadata, "model_id": model_id, "name": name, "signature": signature},
        payload,
        code,
    )
    try:
        runs_db.write(path, lambda conn: _insert(conn, record))
    except BaseException:
        models_io.discard(folder)  # the record never landed: leave no orphan files
        raise
    return record


# --- load_model -------------------------------------------------------------------------------


class LoadedModel:
    """A saved model ready to call: `predict(...)` (or calling it) validates the input against
    the signature, then runs the model in a CHAIN span named after the model, with the model id
    in context so that span and every span under it link to the model. A coroutine predict is
    awaited inside the span; a generator predict is not followed: its span ends when the
    generator is returned."""

    def __init__(self, info: LoggedModel, python_model: Any) -> None:
        self.info = info
        self.python_model = python_model
        self._function = predict_function(python_model)
        self._signature = ModelSignature(self._function)
        self._is_async = inspect.iscoroutinefunction(self._function)

    @property
    def model_id(self) -> str:
        return self.info.model_id

    @property
    def signature(self) -> dict[str, Any] | None:
        return self.info.signature

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = self._signature.validate(args, kwargs, self.info.name)
        if self._is_async:
            return self._predict_async(args, kwargs)
        with self._span(args, kwargs) as span:
            result = self._function(*args, **kwargs)
            span.set_outputs(result)
            return result

    __call__ = predict

    async def _predict_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._span(args, kwargs) as span:
            result = await self._function(*args, **kwargs)
            span.set_outputs(result)
            return result

    @contextlib.contextmanager
    def _span(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[LiveSpan]:
        from tracepond.conventions.span_types import SpanType
        from tracepond.tracing import context
        from tracepond.tracing.spans import start_span

        token = context.set_active_model_id(self.info.model_id)
        try:
            inputs = self._signature.arguments(args, kwargs)
            with start_span(self.info.name, span_type=SpanType.CHAIN, inputs=inputs) as span:
                yield span
        finally:
            context.reset_active_model_id(token)

    def __repr__(self) -> str:
        return f"<LoadedModel {self.info.name!r} model_id={self.info.model_id!r}>"


def load_model(model_uri: str, *, store: str | None = None) -> LoadedModel:
    """Load a model by URI: "models:/<model_id>", "models:/<name>/<version>",
    "models:/<name>@<alias>", "runs:/<run_id>/<name>" or a bare model id."""
    from tracepond.tracking.registry import resolve_model_uri

    path = runs_db.resolve_store(store)
    info = resolve_model_uri(model_uri, store=path)
    if info.artifact_location is None:
        raise ModelLoadError(
            f"model {info.model_id} ({info.name!r}) is a record made by set_active_model; "
            "it has no saved files to load (save one with log_model)"
        )
    python_model, _ = models_io.load(Path(info.artifact_location), info.model_id)
    try:
        return LoadedModel(info, python_model)
    except TypeError as exc:
        raise ModelLoadError(
            f"model {info.model_id} loaded as something that cannot predict: {exc}"
        ) from None
