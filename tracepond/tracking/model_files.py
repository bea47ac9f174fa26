"""A logged model's files: saved once into a fresh folder, read back, never overwritten.

    <store>.artifacts/models/<model_id>/
        model.json          what to load and how (kind, entry, signature, requirements, commit)
        python_model.pkl    the model by value (cloudpickle), or
        code/<file>.py      the model from code: the file that defines it
        requirements.txt    one requirement a line

The folder is written under a temporary name and renamed into place, so a crash leaves either
no folder or a whole one. Loading only reads: a missing or damaged file is a ModelLoadError
naming the file, and nothing is rewritten.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import cloudpickle
import orjson

from tracepond.errors import ModelLoadError, RunError

FORMAT_VERSION = 1
METADATA_FILE = "model.json"
PICKLE_FILE = "python_model.pkl"
CODE_DIR = "code"


# --- what the model needs ---------------------------------------------------------------------


def _imported_modules(source: str) -> set[str]:
    """Top-level module names imported by Python source (absolute imports only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def infer_requirements(source: str | None, extra: tuple[str, ...] = ()) -> list[str]:
    """Pinned distributions the source imports (best effort), plus `extra` (e.g. cloudpickle).

    The standard library and modules that belong to no installed distribution are left out.
    """
    modules = _imported_modules(source) if source else set()
    modules |= set(extra)
    distributions = importlib.metadata.packages_distributions()
    pinned: set[str] = set()
    for module in modules - set(sys.stdlib_module_names):
        for dist in distributions.get(module, []):
            try:
                pinned.add(f"{dist}=={importlib.metadata.version(dist)}")
            except importlib.metadata.PackageNotFoundError:
                continue
    return sorted(pinned, key=str.lower)


def source_of(obj: Any) -> str | None:
    """The source of the module that defines `obj`, when Python can find it."""
    module = inspect.getmodule(obj if inspect.isroutine(obj) or inspect.isclass(obj) else type(obj))
    try:
        return inspect.getsource(module) if module is not None else None
    except (OSError, TypeError):
        return None


def git_commit(path: Path) -> str | None:
    """The commit checked out in the git repository holding `path`, if any."""
    folder = path if path.is_dir() else path.parent
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) >= 40 else None


def dumps(model: Any) -> bytes:
    """The model by value, as cloudpickle writes it; RunError when it cannot be pickled."""
    try:
        return bytes(cloudpickle.dumps(model))
    except Exception as exc:  # pickling runs the objects' own reducers: any failure is theirs
        raise RunError(
            f"the model cannot be saved by value ({type(exc).__name__}: {exc}); save it from "
            "code instead: log_model('path/to/model.py', name=...)"
        ) from exc


# --- writing ----------------------------------------------------------------------------------


def save(
    destination: Path, metadata: dict[str, Any], payload: bytes | None, code: Path | None
) -> None:
    """Write a model folder at `destination` (which must not exist) in one rename."""
    if destination.exists():
        raise ModelLoadError(f"a saved model already exists at {destination}; it was left as is")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        if payload is not None:
            (staging / PICKLE_FILE).write_bytes(payload)
        if code is not None:
            (staging / CODE_DIR).mkdir()
            shutil.copy2(code, staging / CODE_DIR / code.name)
        requirements = "".join(f"{line}\n" for line in metadata.get("requirements", []))
        (staging / "requirements.txt").write_text(requirements)
        (staging / METADATA_FILE).write_bytes(
            orjson.dumps({"format": FORMAT_VERSION, **metadata}, option=orjson.OPT_INDENT_2)
        )
        os.rename(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --- reading ----------------------------------------------------------------------------------


def read_metadata(folder: Path, model_id: str) -> dict[str, Any]:
    path = folder / METADATA_FILE
    if not folder.is_dir():
        raise ModelLoadError(f"the saved files of model {model_id} are missing: no folder {folder}")
    try:
        metadata = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ModelLoadError(f"model {model_id} is missing {path}") from None
    except orjson.JSONDecodeError as exc:
        raise ModelLoadError(f"model {model_id} has a corrupt {path}: {exc}") from None
    if not isinstance(metadata, dict) or metadata.get("source_kind") not in ("pickle", "code"):
        raise ModelLoadError(f"model {model_id} has a corrupt {path}: no valid source_kind")
    if metadata.get("format") != FORMAT_VERSION:
        raise ModelLoadError(
            f"model {model_id} was saved in format {metadata.get('format')!r}; "
            f"this tracepond reads format {FORMAT_VERSION}"
        )
    return metadata


def _load_pickle(folder: Path, model_id: str) -> Any:
    path = folder / PICKLE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"model {model_id} is missing {path}") from None
    try:
        return cloudpickle.loads(data)
    except Exception as exc:  # unpickling runs arbitrary code; any failure means unreadable
        raise ModelLoadError(
            f"model {model_id} cannot be unpickled from {path}: {type(exc).__name__}: {exc}"
        ) from None


def import_code(path: Path, module_name: str) -> types.ModuleType:
    """Import a Python file as a fresh module (registered so dataclasses/pydantic resolve it)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"{path} is not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[module_name]
        raise
    return module


def _load_code(folder: Path, model_id: str, metadata: dict[str, Any]) -> Any:
    path = folder / CODE_DIR / str(metadata.get("code_file"))
    if not path.is_file():
        raise ModelLoadError(f"model {model_id} is missing its code file {path}")
    try:
        module = import_code(path, f"tracepond_model_{model_id.replace('-', '_')}")
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"model {model_id}: importing {path} failed: {type(exc).__name__}: {exc}"
        ) from None
    entry = str(metadata.get("entry"))
    if not hasattr(module, entry):
        raise ModelLoadError(f"model {model_id}: {path} no longer defines {entry!r}")
    found = getattr(module, entry)
    return found() if inspect.isclass(found) else found


def load(folder: Path, model_id: str) -> tuple[Any, dict[str, Any]]:
    """(the model object, its metadata) from a saved folder."""
    metadata = read_metadata(folder, model_id)
    if metadata["source_kind"] == "pickle":
        return _load_pickle(folder, model_id), metadata
    return _load_code(folder, model_id, metadata), metadata


def discard(folder: Path) -> None:
    """Remove a model folder whose record never landed in the store."""
    shutil.rmtree(folder, ignore_errors=True)
