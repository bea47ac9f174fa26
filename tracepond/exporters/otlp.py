"""Spans and GenAI metrics to any OpenTelemetry collector over OTLP (HTTP/protobuf or gRPC).

``build_span_processor(settings)`` is what the tracing provider attaches when an endpoint is
configured. It returns an :class:`OtlpSpanProcessor`: a bounded in-memory queue filled by the
application's threads (``on_end`` only appends, never waits) and drained by one worker thread
that exports batches through the opentelemetry-exporter-otlp exporters.

A collector that is down, slow or refusing costs the application nothing but queue slots:

- each batch is sent by the OTel exporter, which retries transient failures with exponential
  backoff until its own timeout (``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT``, 10 s by default);
- a batch that still failed is kept and retried by the worker with its own backoff (1 s doubling
  to 30 s) for up to ``retry_budget_s``; after that it is dropped and counted;
- while a batch waits, new spans fill the queue; a span that finds the queue full is dropped and
  counted (``otlp_queue_full``), so the application's memory stays bounded;
- when the collector answers again the kept batch goes first, then the queue drains.

``otlp_drop_counts()`` returns the counts for ``tracepond doctor``.

Message content leaves the process only when the user opted in
(``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``: SPAN_ONLY / true, EVENT_ONLY,
SPAN_AND_EVENT, or ``configure(export_content=True)``), where that says; otherwise it is stripped
from the exported copy, and a single log line says how to turn it on. The exported copy carries
the names of the GenAI conventions version in ``genai_semconv``
(tracepond.exporters.otlp_content).

Endpoints follow the OTLP exporter specification: ``otlp_endpoint`` and
``OTEL_EXPORTER_OTLP_ENDPOINT`` are base URLs to which HTTP adds ``/v1/traces`` (and
``/v1/metrics``); ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is used as it is. Headers, timeout,
compression and certificates not given to ``configure`` are read from the standard variables by
the OTel exporters themselves.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace.export import SpanExporter

from tracepond.config import OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
from tracepond.errors import StoreError
from tracepond.exporters.otlp_content import (
    ContentFilteringExporter,
)
from tracepond.exporters.otlp_queue import (
    AT_SHUTDOWN,
    EXPORT_FAILED,
    QUEUE_FULL,
    ExportStats,
    OtlpSpanProcessor,
    otlp_drop_counts,
    otlp_export_stats,
)
from tracepond.exporters.otlp_verdict import VerdictRecorder, grpc_span_exporter, http_session

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader

    from tracepond.config import Settings

__all__ = [
    "AT_SHUTDOWN",
    "EXPORT_FAILED",
    "QUEUE_FULL",
    "ContentFilteringExporter",
    "ExportStats",
    "OtlpSpanProcessor",
    "build_exporter",
    "build_metric_reader",
    "build_span_processor",
    "otlp_drop_counts",
    "otlp_export_stats",
]

logger = logging.getLogger("tracepond.otlp")

# tracepond.config reads the OTEL_* variables tracepond honours; the OTel exporters read the
# rest themselves (OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT, _COMPRESSION, _CERTIFICATE, _INSECURE).
CAPTURE_CONTENT_VARIABLE = OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
OTLP_DROP_SOURCE = "otlp"  # the writer_stats source `tracepond doctor` shows

HTTP_PROTOBUF = "http/protobuf"
GRPC = "grpc"
PROTOCOLS = (HTTP_PROTOBUF, GRPC)


# --- settings -> exporter arguments ----------------------------------------------------------


def traces_url(settings: Settings) -> str | None:
    """Where spans go: the traces endpoint as given, else the base URL (+ /v1/traces for HTTP)."""
    return settings.otlp_traces_url


def metrics_url(settings: Settings) -> str | None:
    """Where metrics go: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT as given, else the base URL
    (+ /v1/metrics for HTTP); None when only a traces endpoint is configured."""
    if settings.otlp_metrics_endpoint:
        return settings.otlp_metrics_endpoint
    if settings.otlp_endpoint is None:
        return None
    if metrics_protocol(settings) == GRPC:
        return settings.otlp_endpoint
    return settings.otlp_endpoint.rstrip("/") + "/v1/metrics"


def metrics_protocol(settings: Settings) -> str:
    return settings.otlp_metrics_protocol or settings.otlp_protocol


def exporter_headers(settings: Settings) -> dict[str, str] | None:
    """configure()/OTEL_*_HEADERS headers; None lets the OTel exporter read its variables."""
    return dict(settings.otlp_headers) or None


def build_span_exporter(
    settings: Settings, verdicts: VerdictRecorder | None = None
) -> SpanExporter | None:
    """The OTel OTLP span exporter for the configured protocol, or None without an endpoint;
    with ``verdicts``, it reports each answer of the collector there."""
    endpoint = traces_url(settings)
    if endpoint is None:
        return None
    headers = exporter_headers(settings)
    if settings.otlp_protocol == GRPC:
        if verdicts is not None:
            exporter: SpanExporter = grpc_span_exporter(
                verdicts, endpoint=endpoint, headers=headers
            )
            return exporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(endpoint=endpoint, headers=headers)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    session = http_session(verdicts) if verdicts is not None else None
    return HttpSpanExporter(endpoint=endpoint, headers=headers, session=session)


def build_exporter(
    settings: Settings, verdicts: VerdictRecorder | None = None
) -> SpanExporter | None:
    """The OTLP span exporter, wrapped so that no credential leaves, and content only where
    ``content_mode`` says, in the names of ``genai_semconv``."""
    exporter = build_span_exporter(settings, verdicts)
    if exporter is None:
        return None
    # Always wrapped, whatever the content mode: no credential leaves (otlp_content.redact_span).
    return ContentFilteringExporter(exporter, settings.content_mode, settings.genai_semconv)


def build_span_processor(settings: Settings) -> OtlpSpanProcessor | None:
    """The processor the tracing provider attaches; None when no OTLP endpoint is configured.

    Queue size, batch size and flush interval are the store's (``TRACEPOND_QUEUE_SIZE``,
    ``TRACEPOND_BATCH_SIZE``, ``TRACEPOND_FLUSH_INTERVAL``): one batch is one OTLP request.
    """
    verdicts = VerdictRecorder()
    exporter = build_exporter(settings, verdicts)
    if exporter is None:
        return None
    processor = OtlpSpanProcessor(
        exporter,
        max_queue_size=settings.queue_size,
        max_batch_size=settings.batch_size,
        schedule_delay_s=settings.flush_interval_s,
        verdicts=verdicts,
        collector=f"the OTLP collector at {traces_url(settings)}",
    )
    if settings.store is not None and not settings.store.startswith("s3://"):
        store = settings.store

        def record(count: int) -> None:
            from tracepond.store.writer import record_dropped

            if not os.path.isfile(store):  # never create a store just to say spans dropped
                raise StoreError(f"{store} does not exist yet")  # the count waits for it
            record_dropped(store, count, OTLP_DROP_SOURCE)

        processor.record_drops_with(record)
    return processor


def build_metric_reader(settings: Settings) -> MetricReader | None:
    """A periodic OTLP metric reader for the GenAI metrics, or None without an endpoint.

    The interval is ``OTEL_METRIC_EXPORT_INTERVAL`` (milliseconds, 60000 by default).
    """
    exporter = build_metric_exporter(settings)
    if exporter is None:
        return None
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    return PeriodicExportingMetricReader(
        exporter, export_interval_millis=settings.metric_export_interval_ms
    )


def build_metric_exporter(settings: Settings) -> MetricExporter | None:
    """The OTel OTLP metric exporter for the configured protocol, or None without an endpoint."""
    endpoint = metrics_url(settings)
    if endpoint is None:
        return None
    headers = exporter_headers(settings)
    if metrics_protocol(settings) == GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter(endpoint=endpoint, headers=headers)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter(endpoint=endpoint, headers=headers)
