"""Feedback and expectations on traces: log, read, override, delete (MLflow 3's names).

    tracepond.log_feedback(trace_id, "correct", True, source="human:ana", rationale="...")
    tracepond.log_expectation(trace_id, "expected_response", "5 days")
    tracepond.get_assessments(trace_id)         # also Trace.info.assessments

``source`` is ``"TYPE"`` or ``"TYPE:ID"`` with TYPE one of human, llm_judge, code (any case), or an
:class:`AssessmentSource`. Every write goes through :func:`tracepond.store.assessments.apply_changes`;
a bad argument is refused before the store is touched.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from tracepond.errors import AssessmentError, NotFoundError
from tracepond.store.assessments import (
    EXPECTATION,
    FEEDBACK,
    SOURCE_TYPES,
    Assessment,
    AssessmentSource,
    Changes,
    apply_changes,
    encode_value,
    read_assessments,
)
from tracepond.store.connection import read_connection, resolve_store

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Feedback:
    """A verdict a scorer returns (or a person gives): a value, or an ``error`` when scoring
    failed. ``name`` defaults to the scorer's name."""

    value: Any = None
    name: str | None = None
    rationale: str | None = None
    error: str | None = None
    source: AssessmentSource | str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    span_id: str | None = None


@dataclass(frozen=True)
class Expectation:
    """The answer a trace should have given (``expected_response``, ``expected_facts``, ...)."""

    value: Any
    name: str
    source: AssessmentSource | str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    span_id: str | None = None


def parse_source(source: AssessmentSource | str | None, default: str = "HUMAN") -> AssessmentSource:
    """``"human:ana"`` -> AssessmentSource("HUMAN", "ana"); AssessmentError for another type."""
    if source is None:
        return AssessmentSource(default)
    if isinstance(source, AssessmentSource):
        kind, ident = source.source_type.upper(), source.source_id
    elif isinstance(source, str):
        head, _, rest = source.partition(":")
        kind, ident = head.strip().upper(), (rest.strip() or None)
    else:
        raise AssessmentError(f"source must be a string such as 'human:ana', not {source!r}")
    if kind not in SOURCE_TYPES:
        raise AssessmentError(
            f"unknown assessment source {source!r}: the type is one of "
            f"{', '.join(t.lower() for t in SOURCE_TYPES)} (e.g. 'human:ana', 'code:my_check')"
        )
    return AssessmentSource(kind, ident)


def check_trace_id(trace_id: Any) -> str:
    normalized = trace_id.strip().lower() if isinstance(trace_id, str) else None
    if normalized is None or not _TRACE_ID.match(normalized):
        raise AssessmentError(f"a trace id is 32 hexadecimal characters, not {trace_id!r}")
    return normalized


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 250:
        raise AssessmentError(
            f"an assessment name is a non-empty string of at most 250 characters, not {name!r}"
        )
    return name


def _check_span_id(span_id: Any) -> str | None:
    if span_id is None:
        return None
    if not isinstance(span_id, str) or not _SPAN_ID.match(span_id.lower()):
        raise AssessmentError(f"a span id is 16 hexadecimal characters, not {span_id!r}")
    return span_id.lower()


def build(
    trace_id: str,
    name: str,
    kind: str,
    value: Any,
    source: AssessmentSource,
    *,
    rationale: str | None = None,
    error: str | None = None,
    metadata: dict[str, Any] | None = None,
    span_id: str | None = None,
    run_id: str | None = None,
    overrides: str | None = None,
) -> Assessment:
    """A new, checked Assessment (not yet written)."""
    name = check_name(name)
    encode_value(name, value)  # refuse a value that cannot be stored before anything happens
    encode_value(f"{name} metadata", metadata or {})
    now = dt.datetime.now(dt.timezone.utc)
    return Assessment(
        assessment_id="a-" + uuid.uuid4().hex,
        trace_id=check_trace_id(trace_id),
        name=name,
        kind=kind,
        value=value,
        source_type=source.source_type,
        source_id=source.source_id,
        span_id=_check_span_id(span_id),
        rationale=None if rationale is None else str(rationale),
        error=None if error is None else str(error),
        metadata=dict(metadata or {}),
        run_id=run_id,
        create_time=now,
        last_update_time=now,
        valid=True,
        overrides=overrides,
    )


def log_feedback(
    trace_id: str,
    name: str,
    value: Any = None,
    *,
    source: AssessmentSource | str | None = None,
    rationale: str | None = None,
    error: str | BaseException | None = None,
    metadata: dict[str, Any] | None = None,
    span_id: str | None = None,
    store: str | None = None,
) -> Assessment:
    """Record a verdict on a trace (or one of its spans); returns the stored Assessment.

    NotFoundError when the store has no such trace; AssessmentError for a value that cannot be
    stored as JSON, a bad name or source. Either way nothing is written."""
    if value is None and error is None:
        raise AssessmentError(f"feedback {name!r} needs a value (or an error)")
    assessment = build(
        trace_id,
        name,
        FEEDBACK,
        value,
        parse_source(source),
        rationale=rationale,
        error=_error_text(error),
        metadata=metadata,
        span_id=span_id,
    )
    apply_changes(resolve_store(store), Changes(insert=[assessment]))
    return assessment


def log_expectation(
    trace_id: str,
    name: str,
    value: Any,
    *,
    source: AssessmentSource | str | None = None,
    metadata: dict[str, Any] | None = None,
    span_id: str | None = None,
    store: str | None = None,
) -> Assessment:
    """Record what a trace should have produced (ground truth), e.g. ``expected_response``."""
    assessment = build(
        trace_id, name, EXPECTATION, value, parse_source(source), metadata=metadata, span_id=span_id
    )
    apply_changes(resolve_store(store), Changes(insert=[assessment]))
    return assessment


def get_assessments(
    trace_id: str, *, name: str | None = None, store: str | None = None
) -> list[Assessment]:
    """The trace's assessments, oldest first (overridden ones too, with ``valid=False``)."""
    normalized = check_trace_id(trace_id)
    with read_connection(resolve_store(store)) as conn:
        found = read_assessments(conn, [normalized]).get(normalized, [])
    return [a for a in found if name is None or a.name == name]


def get_assessment(trace_id: str, assessment_id: str, *, store: str | None = None) -> Assessment:
    for assessment in get_assessments(trace_id, store=store):
        if assessment.assessment_id == assessment_id:
            return assessment
    raise NotFoundError(f"no assessment with id {assessment_id!r} on trace {trace_id!r}")


def override_feedback(
    trace_id: str,
    assessment_id: str,
    value: Any,
    *,
    rationale: str | None = None,
    source: AssessmentSource | str | None = None,
    metadata: dict[str, Any] | None = None,
    store: str | None = None,
) -> Assessment:
    """Replace a feedback with a corrected one: the old row stays, ``valid=False``, and the new
    one names it in ``overrides`` (MLflow's history)."""
    old = get_assessment(trace_id, assessment_id, store=store)
    if old.kind != FEEDBACK:
        raise AssessmentError(f"assessment {assessment_id!r} is an expectation, not a feedback")
    new = build(
        old.trace_id,
        old.name,
        FEEDBACK,
        value,
        parse_source(source),
        rationale=rationale,
        metadata=metadata,
        span_id=old.span_id,
        run_id=old.run_id,
        overrides=old.assessment_id,
    )
    changes = Changes(insert=[new], invalidate=[old.assessment_id], trace_id=old.trace_id)
    apply_changes(resolve_store(store), changes)
    return new


def delete_assessment(trace_id: str, assessment_id: str, *, store: str | None = None) -> None:
    """Delete an assessment; the one it had overridden (if any) becomes valid again."""
    normalized = check_trace_id(trace_id)
    changes = Changes(delete=[assessment_id], trace_id=normalized)
    apply_changes(resolve_store(store), changes)


def _error_text(error: str | BaseException | None) -> str | None:
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return error
