"""Errors a user can catch, and the one place internal failures are reported.

Hierarchy::

    TracepondError
    ├── ConfigError (also ValueError)        a bad argument or TRACEPOND_* / OTEL_* value
    ├── StoreError                           the store cannot be used
    │   ├── StoreLockedError                 another process holds the file, retries ran out
    │   ├── NotAStoreError                   the file exists and is not a tracepond store
    │   ├── SchemaVersionError               written by a newer tracepond
    │   ├── ModelLoadError                   a saved model is missing or unreadable
    │   └── ExportError                      the export folder cannot be used
    ├── QueryError (also ValueError)         a malformed filter or refused SQL
    ├── NotFoundError (also LookupError)     no trace / run / model / dataset with that id
    ├── AssessmentError (also ValueError)    a feedback, scorer, judge or evaluation given bad input
    ├── RunError (also ValueError)           a run or model used wrongly
    ├── ExperimentConflictError (also ValueError)   an experiment of that name differs
    ├── ModelInputError (also ValueError, TypeError)   input not matching a model's signature
    ├── OtlpDecodeError (also ValueError)    a body that is not an OTLP trace export
    ├── ImportFileError (also ValueError)    a file to import is not OTLP JSON
    ├── BadRequestError (also ValueError)    the viewer's API refused a request (HTTP 400)
    ├── PromptError (also ValueError)        a bad prompt template, or variables that do not fit it
    └── ProviderNotInstalledError (also ImportError)   autolog(providers=[...]) without the package

Instrumentation never breaks the application: a failure inside tracepond is passed to
``log_internal_error`` which logs it once per call site and swallows it. Under tracepond's own
tests (``TRACEPOND_RAISE_INTERNAL_ERRORS=1``) it re-raises, so bugs fail tests instead of hiding.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger("tracepond")


class TracepondError(Exception):
    """Base class of every error tracepond raises on purpose."""


class ConfigError(TracepondError, ValueError):
    """A configuration argument or environment variable has a value tracepond cannot use."""


class StoreError(TracepondError):
    """The store file cannot be opened, read or written."""


class StoreLockedError(StoreError):
    """Another process held the store's lock for longer than the retry budget."""


class NotAStoreError(StoreError):
    """The path holds a file that is not a tracepond store; it is left untouched."""


class SchemaVersionError(StoreError):
    """The store was written by a newer tracepond whose schema this version does not know."""


class QueryError(TracepondError, ValueError):
    """A search filter or SQL statement was malformed or not allowed."""


class NotFoundError(TracepondError, LookupError):
    """No trace, run or model has the given id or name."""


class PromptError(TracepondError, ValueError):
    """A prompt template is malformed, or ``format()`` got missing or extra variables."""


class AssessmentError(TracepondError, ValueError):
    """A feedback, expectation, scorer, judge or evaluation was given something it cannot use."""


class ProviderNotInstalledError(TracepondError, ImportError):
    """autolog was asked for a provider whose client library is not installed."""


class ModelLoadError(StoreError):
    """A saved model is missing or cannot be read; its files are left as they were."""


class ExportError(StoreError):
    """The export folder cannot be used (not a tracepond export, or busy)."""


class RunError(TracepondError, ValueError):
    """A run or a model was used wrongly; the message names the run, the key and the value."""


class ExperimentConflictError(TracepondError, ValueError):
    """An experiment of that name exists with different settings; nothing was changed."""


class ModelInputError(TracepondError, ValueError, TypeError):
    """An input to a loaded model does not match its signature.

    ``errors`` lists each mismatch as ``(field path, message)``, e.g. ``("question.user.age",
    "Input should be a valid integer")``.
    """

    def __init__(self, message: str, errors: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


class StaleReadWarning(UserWarning):
    """A read answered without some of this process's own spans: its writer could not commit
    them first (another process held the store). The spans are still queued, not lost."""


class OtlpDecodeError(TracepondError, ValueError):
    """The request body is not a valid OTLP trace export; the message says why."""


class ImportFileError(TracepondError, ValueError):
    """A file to import is not OTLP JSON; the message names the file and the line."""


class BadRequestError(TracepondError, ValueError):
    """The viewer's JSON API refused a request (answered 400); ``kind`` names what was wrong."""

    def __init__(self, message: str, kind: str = "parameter") -> None:
        super().__init__(message)
        self.kind = kind


_reported: set[str] = set()


def _raise_internal_errors() -> bool:
    return os.environ.get("TRACEPOND_RAISE_INTERNAL_ERRORS", "") not in ("", "0", "false")


def log_internal_error(where: str) -> None:
    """Report the exception being handled as a tracepond bug, once per ``where``.

    Call it from an ``except`` block. The application keeps running with less telemetry.
    """
    if _raise_internal_errors():
        raise  # the active exception: tracepond's own tests want internal bugs to fail
    if where in _reported:
        return
    _reported.add(where)
    logger.warning(
        "tracepond internal error in %s; your code is still running, with less telemetry.",
        where,
        exc_info=sys.exc_info(),
    )
