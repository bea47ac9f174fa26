"""Assessments over OTLP: each feedback is a ``gen_ai.evaluation.result`` event.

The GenAI conventions carry an evaluation as an event (an OTLP log record with that event name)
in the context of the span it evaluates: ``gen_ai.evaluation.name``, ``gen_ai.evaluation.score.value``
(a number: bools and yes/no as 1/0), ``gen_ai.evaluation.score.label`` (the value as text),
``gen_ai.evaluation.explanation`` (the rationale, content: sent only when ``export_content``)
and ``error.type`` for a failed scoring. A feedback on a whole trace is sent on the trace's root
span, read from the store. Expectations are ground truth, not evaluation results: not sent.

:func:`build_evaluation_events` makes the listener that the pipeline registers with the store's
assessment write path when OTLP is configured; records go out in batches from the SDK's
``BatchLogRecordProcessor`` thread, so a collector that is down never delays a write.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace as otel_trace
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource

from tracepond.errors import log_internal_error
from tracepond.exporters.otlp import GRPC, exporter_headers
from tracepond.store.assessments import FEEDBACK, Assessment
from tracepond.store.query import sql

if TYPE_CHECKING:
    from tracepond.config import Settings

EVENT_NAME = "gen_ai.evaluation.result"


def evaluation_attributes(assessment: Assessment, with_content: bool) -> dict[str, Any]:
    """The event's attributes for one feedback."""
    found: dict[str, Any] = {
        "gen_ai.evaluation.name": assessment.name,
        "tracepond.assessment.id": assessment.assessment_id,
        "tracepond.assessment.source_type": assessment.source_type,
    }
    value = assessment.value
    if isinstance(value, bool):
        found["gen_ai.evaluation.score.value"] = 1.0 if value else 0.0
        found["gen_ai.evaluation.score.label"] = "true" if value else "false"
    elif isinstance(value, numbers.Real):
        found["gen_ai.evaluation.score.value"] = float(value)
    elif isinstance(value, str):
        found["gen_ai.evaluation.score.label"] = value
        if value.strip().lower() in ("yes", "no"):
            found["gen_ai.evaluation.score.value"] = 1.0 if value.strip().lower() == "yes" else 0.0
    if assessment.error:
        found["error.type"] = assessment.error.split(":", 1)[0]
    if assessment.source_id:
        found["tracepond.assessment.source_id"] = assessment.source_id
    if assessment.run_id:
        found["tracepond.run_id"] = assessment.run_id
    if with_content and assessment.rationale:
        found["gen_ai.evaluation.explanation"] = assessment.rationale
    return found


class EvaluationEvents:
    """The store listener: sends each new feedback as an event on the span it evaluates."""

    def __init__(self, exporter: LogRecordExporter, settings: Settings) -> None:
        attributes = {SERVICE_NAME: settings.service_name} if settings.service_name else {}
        self.provider = LoggerProvider(resource=Resource.create(attributes), shutdown_on_exit=False)
        self.provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        self.logger = self.provider.get_logger("tracepond.evaluation")
        self.store = settings.store
        self.with_content = settings.export_content

    def __call__(self, inserted: Sequence[Assessment]) -> None:
        feedback = [a for a in inserted if a.kind == FEEDBACK]
        if not feedback:
            return
        roots = self._root_spans([a.trace_id for a in feedback if a.span_id is None])
        for assessment in feedback:
            span_id = assessment.span_id or roots.get(assessment.trace_id)
            context = otel_trace.set_span_in_context(
                otel_trace.NonRecordingSpan(
                    otel_trace.SpanContext(
                        int(assessment.trace_id, 16), int(span_id, 16) if span_id else 0,
                        is_remote=True, trace_flags=otel_trace.TraceFlags(otel_trace.TraceFlags.SAMPLED),
                    )
                )
            )  # fmt: skip
            created = assessment.create_time
            self.logger.emit(
                LogRecord(
                    timestamp=int(created.timestamp() * 1e9) if created else None,
                    context=context,
                    event_name=EVENT_NAME,
                    attributes=evaluation_attributes(assessment, self.with_content),
                )
            )

    def _root_spans(self, trace_ids: list[str]) -> dict[str, str]:
        if not trace_ids or not self.store:
            return {}
        try:
            rows = sql(
                "SELECT trace_id, root_span_id FROM traces WHERE trace_id IN (SELECT unnest(?))",
                params=[list(dict.fromkeys(trace_ids))],
                store=self.store,
            ).fetchall()
        except Exception:
            log_internal_error("reading root spans for evaluation events")
            return {}
        return {trace_id: root for trace_id, root in rows if root}

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.provider.force_flush(timeout_millis))

    def shutdown(self) -> None:
        self.provider.shutdown()


def logs_url(settings: Settings) -> str | None:
    """The logs endpoint: the base URL (+ /v1/logs for HTTP); None without a base URL."""
    if settings.otlp_endpoint is None:
        return None
    if settings.otlp_protocol == GRPC:
        return settings.otlp_endpoint
    return settings.otlp_endpoint.rstrip("/") + "/v1/logs"


def build_evaluation_events(settings: Settings) -> EvaluationEvents | None:
    endpoint = logs_url(settings)
    if endpoint is None:
        return None
    headers = exporter_headers(settings)
    exporter: LogRecordExporter
    if settings.otlp_protocol == GRPC:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as Grpc

        exporter = Grpc(endpoint=endpoint, headers=headers)
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as Http

        exporter = Http(endpoint=endpoint, headers=headers)
    return EvaluationEvents(exporter, settings)
