"""The copy of each span that goes over OTLP: content where the convention's switch says, names
of the GenAI conventions version tracepond emits.

``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``configure(content_mode=...)``):

- ``NO_CONTENT`` (the default, and ``false``): content attributes (``gen_ai.input.messages``,
  ``gen_ai.output.messages``, ``gen_ai.system_instructions``, ``tracepond.inputs`` /
  ``.outputs``) are removed, and one log line says how to send them;
- ``SPAN_ONLY`` (``true``): sent as the span's attributes, as recorded;
- ``EVENT_ONLY``: the GenAI content leaves the span's attributes and travels on a
  ``gen_ai.client.inference.operation.details`` event of the span, with the operation, provider,
  models and response id beside it (tracepond's own inputs/outputs are not sent);
- ``SPAN_AND_EVENT``: both.

Attribute names are renamed to the version in ``genai_semconv``
(tracepond.conventions.versions). The local store keeps the original spans.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from tracepond.config import (
    EVENT_ONLY,
    NO_CONTENT,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
    SPAN_AND_EVENT,
    SPAN_ONLY,
)
from tracepond.conventions.attributes import CONTENT_ATTRIBUTES, GEN_AI_CONTENT_ATTRIBUTES
from tracepond.conventions.secrets import redact_text, redacted_attributes
from tracepond.conventions.versions import (
    INFERENCE_DETAILS_CONTEXT,
    INFERENCE_DETAILS_EVENT,
    RENAMES,
)

logger = logging.getLogger("tracepond.otlp")

CONTENT_NOTICE = (
    "tracepond: message content (%s) is kept in the local store but not sent over OTLP. "
    "To export it too, set %s=true (or SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT) or call "
    "tracepond.configure(export_content=True)."
)


def needs_rewriting(content_mode: str, genai_semconv: str) -> bool:
    """False when the recorded spans are what goes out as they are."""
    return content_mode != SPAN_ONLY or bool(RENAMES[genai_semconv])


class ContentFilteringExporter(SpanExporter):
    """Sends rewritten copies of the spans; the local store keeps the originals."""

    _noticed = False  # one notice per process, however many exporters are built
    _notice_lock = threading.Lock()

    def __init__(
        self, inner: SpanExporter, content_mode: str = NO_CONTENT, genai_semconv: str = "1.41"
    ) -> None:
        self.inner = inner
        self.content_mode = content_mode
        self.renames = RENAMES[genai_semconv]

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        stripped_names: set[str] = set()
        # Whatever the content mode, no credential leaves: every attribute, event attribute and
        # status message of the copy is scrubbed (tracepond.conventions.secrets).
        copies = [redact_span(self.rewrite(span, stripped_names)) for span in spans]
        if stripped_names and self.content_mode == NO_CONTENT:
            self._notice_once(stripped_names)
        return self.inner.export(copies)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def rewrite(self, span: ReadableSpan, stripped_names: set[str]) -> ReadableSpan:
        attributes: Mapping[str, Any] = span.attributes or {}
        events = list(span.events)
        has_content = any(name in CONTENT_ATTRIBUTES for name in attributes)
        if not has_content and not self.renames and not _events_have_content(events):
            return span
        kept = dict(attributes)
        if self.content_mode in (EVENT_ONLY, SPAN_AND_EVENT) and has_content:
            events.append(_details_event(attributes, span.end_time or span.start_time or 0))
        if self.content_mode == NO_CONTENT:
            kept = _without(kept, CONTENT_ATTRIBUTES, stripped_names)
            events = [_stripped_event(event, stripped_names) for event in events]
        elif self.content_mode == EVENT_ONLY:
            kept = _without(kept, CONTENT_ATTRIBUTES, stripped_names)
        return _copy(span, self._renamed(kept), events)

    def _renamed(self, attributes: dict[str, Any]) -> dict[str, Any]:
        if not self.renames:
            return attributes
        return {self.renames.get(name, name): value for name, value in attributes.items()}

    @classmethod
    def _notice_once(cls, names: set[str]) -> None:
        with cls._notice_lock:
            if cls._noticed:
                return
            cls._noticed = True
        logger.warning(
            CONTENT_NOTICE,
            ", ".join(sorted(names)),
            OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
        )


def redact_span(span: ReadableSpan) -> ReadableSpan:
    """``span``, or a copy with its credentials scrubbed, whoever recorded them."""
    attributes: Mapping[str, Any] = span.attributes or {}
    clean = redacted_attributes(attributes)
    events = [
        Event(event.name, redacted_attributes(event.attributes or {}), event.timestamp)
        for event in span.events
    ]
    changed = any(
        new.attributes is not old.attributes for new, old in zip(events, span.events, strict=True)
    )
    status = span.status
    if status.description and redact_text(status.description) != status.description:
        status = Status(status.status_code, redact_text(status.description))
    if clean is attributes and not changed and status is span.status:
        return span
    return _copy(span, dict(clean), events, status)


def _details_event(attributes: Mapping[str, Any], timestamp: int) -> Event:
    """The convention's inference-details event: the GenAI content and what it belongs to."""
    carried = {
        name: attributes[name]
        for name in (*INFERENCE_DETAILS_CONTEXT, *sorted(GEN_AI_CONTENT_ATTRIBUTES))
        if name in attributes
    }
    return Event(INFERENCE_DETAILS_EVENT, carried, timestamp)


def _stripped_event(event: Event, stripped_names: set[str]) -> Event:
    attributes = event.attributes or {}
    if not any(name in CONTENT_ATTRIBUTES for name in attributes):
        return event
    return Event(
        event.name, _without(attributes, CONTENT_ATTRIBUTES, stripped_names), event.timestamp
    )


def _events_have_content(events: Sequence[Any]) -> bool:
    return any(name in CONTENT_ATTRIBUTES for event in events for name in (event.attributes or {}))


def _without(
    attributes: Mapping[str, Any], names: frozenset[str], stripped_names: set[str]
) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in attributes.items():
        if name in names:
            stripped_names.add(name)
        else:
            kept[name] = value
    return kept


def _copy(
    span: ReadableSpan, attributes: dict[str, Any], events: list[Any], status: Status | None = None
) -> ReadableSpan:
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=span.status if status is None else status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
