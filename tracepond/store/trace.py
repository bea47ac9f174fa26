"""What the query API returns: :class:`Trace` = :class:`TraceInfo` + its :class:`Span` tree.

Times are timezone-aware UTC datetimes; inputs, outputs, attributes, tags and metadata are parsed
from the store's JSON text. ``Trace.spans`` lists parents before children (siblings by start
time); :meth:`Trace.span_tree` pairs each span with its depth for tree displays.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracepond.display import notebook
from tracepond.display.numbers import format_cost, format_duration, plural
from tracepond.store.assessments import Assessment


@dataclass(frozen=True)
class SpanEvent:
    name: str
    time: dt.datetime | None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    span_type: str
    status: str
    status_message: str | None
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    duration_ms: float | None
    kind: str | None = None
    provider: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    response_model: str | None = None  # what the provider answered; `model` is what was asked


@dataclass(frozen=True)
class TraceInfo:
    trace_id: str
    name: str | None
    status: str
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    duration_ms: float | None
    tags: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    user_id: str | None = None
    run_id: str | None = None
    experiment_id: str | None = None
    model_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    span_count: int = 0
    error_count: int = 0
    in_progress: bool = False
    root_span_id: str | None = None
    service_name: str | None = None
    inputs: Any = None
    outputs: Any = None
    assessments: list[Assessment] = field(default_factory=list)  # feedback and expectations


@dataclass(frozen=True)
class Trace:
    """One trace: ``info`` (the ``traces`` row) and ``spans`` (parents before children)."""

    info: TraceInfo
    spans: list[Span] = field(default_factory=list)

    @property
    def trace_id(self) -> str:
        return self.info.trace_id

    def span_tree(self) -> list[tuple[int, Span]]:
        """(depth, span) in display order: each parent followed by its children."""
        return span_tree(self.spans)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: datetimes as ISO 8601 strings."""
        return _plain(dataclasses.asdict(self))  # type: ignore[no-any-return]

    def to_json(self, indent: bool = False) -> str:
        option = orjson.OPT_INDENT_2 if indent else 0
        return orjson.dumps(self.to_dict(), option=option, default=str).decode()

    def _repr_html_(self) -> str:
        rendered: str = notebook.render_trace_html(self)
        return rendered

    def __repr__(self) -> str:
        info = self.info
        return (
            f"Trace(trace_id={info.trace_id!r}, name={info.name!r}, status={info.status!r}, "
            f"duration_ms={info.duration_ms}, spans={len(self.spans)})"
        )

    def __str__(self) -> str:
        """A readable tree, for ``print(trace)`` outside Jupyter."""
        info = self.info
        failed = f" · {plural(info.error_count, 'failed step')}" if info.error_count else ""
        lines = [
            f"{info.name or '(unnamed trace)'}  {info.status}{failed}  "
            f"{format_duration(info.duration_ms)}  {plural(len(self.spans), 'span')}  "
            f"{info.trace_id}"
        ]
        for depth, span in self.span_tree():
            details = [span.span_type, format_duration(span.duration_ms), span.status]
            if span.model and span.model not in span.name:
                details.append(span.model)
            tokens = (span.input_tokens or 0) + (span.output_tokens or 0)
            if tokens:
                details.append(plural(tokens, "token"))
            if span.cost_usd:
                details.append(format_cost(span.cost_usd))
            if span.status == "ERROR" and span.status_message:
                details.append(span.status_message.splitlines()[0][:120])
            lines.append(f"{'   ' * depth}└─ {span.name or '(unnamed)'}  {'  '.join(details)}")
        return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def span_tree(spans: list[Span]) -> list[tuple[int, Span]]:
    """Depth-first order, siblings by start time; spans whose parent is absent are roots."""
    ids = {span.span_id for span in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)
    for group in children.values():
        group.sort(
            key=lambda s: (
                s.start_time or dt.datetime.min.replace(tzinfo=dt.timezone.utc),
                s.span_id,
            )
        )
    ordered: list[tuple[int, Span]] = []
    stack: list[tuple[int, Span]] = [(0, s) for s in reversed(children.get(None, []))]
    while stack:
        depth, span = stack.pop()
        ordered.append((depth, span))
        stack.extend((depth + 1, child) for child in reversed(children.get(span.span_id, [])))
    return ordered


class TraceList(list[Trace]):
    """What ``search_traces`` returns: a plain ``list`` of :class:`Trace` that Jupyter renders
    as the viewer's trace table (click a row to open the trace), with no server running."""

    def _repr_html_(self) -> str:
        rendered: str = notebook.render_traces_html(self)
        return rendered
