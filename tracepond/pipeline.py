"""The composition root: settings in, span processors and the metric reader out.

``configure()`` lives here because it is the one place that knows every destination a span can
go to. It validates the options (:mod:`tracepond.config`), builds what the settings ask for (the
DuckDB store's processor, the OTLP processor and its GenAI metric reader, from
:mod:`tracepond.exporters`) and hands the processors to :mod:`tracepond.tracing.provider`, which
knows nothing of exporters. Tracing that starts before any ``configure()`` call asks the builder
registered here (:func:`tracepond.tracing.provider.set_processor_builder`), so the first span is
stored as before.

Everything new is built before anything is swapped: a bad option or an unusable store raises
ConfigError / StoreError and leaves the previous settings and processors in place.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor

from tracepond import config
from tracepond.config import Settings
from tracepond.errors import logger
from tracepond.tracing import provider
from tracepond.tracking import judge_models

METRICS_SHUTDOWN_S = 3.0  # longest the last metrics export may hold up a shutdown

_lock = threading.RLock()  # one configure() at a time: build, swap, install


def configure(**options: Any) -> Settings:
    """Change tracepond's settings; returns the settings now in force.

    Options not given keep their current value (the first call starts from the environment and
    the defaults). Switching ``store`` flushes the spans pending for the old store there before
    new spans go to the new one. Options: ``store``, ``otlp_endpoint``, ``otlp_traces_endpoint``,
    ``otlp_protocol``, ``otlp_headers``, ``capture_content``, ``export_content``,
    ``content_mode``, ``genai_semconv``,
    ``max_value_bytes``, ``sample_rate``, ``queue_size``, ``batch_size``, ``flush_interval_s``,
    ``redact``, ``service_name``, ``metrics``, ``use_global_provider``,
    ``otlp_metrics_endpoint``, ``otlp_metrics_protocol``, ``metric_export_interval_ms``.

    Raises ConfigError (an unknown option, a bad value) and then changes nothing.
    """
    with _lock:
        settings = config.build_settings(config.current_base(), **options)
        provider.apply_settings(settings)  # raises before anything is swapped
        return config.install(settings)


def build_processors(settings: Settings) -> tuple[SpanProcessor, ...]:
    """The DuckDB and OTLP processors ``settings`` ask for (imported only when asked for)."""
    built: list[SpanProcessor] = []
    try:
        if settings.store is not None and _is_lake(settings.store):
            logger.warning(
                "tracepond: the store %s is a read-only Parquet lake; new spans are not stored "
                "locally%s",
                settings.store,
                "" if settings.otlp_enabled else " (and no OTLP endpoint is set, so none are kept)",
            )
        elif settings.store is not None:
            from tracepond.exporters.duckdb import DuckDBSpanProcessor  # loads DuckDB

            built.append(DuckDBSpanProcessor(settings.store, settings))
        if settings.otlp_enabled:
            otlp = _build_otlp(settings)
            if otlp is not None:
                built.append(otlp)
    except BaseException:
        for processor in built:  # what was built before the failure must not leak threads
            processor.shutdown()
        raise
    return tuple(built)


def _build_otlp(settings: Settings) -> SpanProcessor | None:
    from tracepond.exporters import otlp  # loads the OTLP exporters (an optional extra)

    processor = otlp.build_span_processor(settings)  # an OtlpSpanProcessor, or None
    if processor is None:
        return None
    detach_metrics = attach_metric_reader(settings)
    if detach_metrics is not None:
        processor.on_shutdown(detach_metrics)
    detach_events = _attach_evaluation_events(settings)
    if detach_events is not None:
        processor.on_shutdown(detach_events)
    return processor


def _attach_evaluation_events(settings: Settings) -> Callable[[], None] | None:
    """Send each new feedback as a gen_ai.evaluation.result event while this processor lives."""
    from tracepond.exporters import otlp_evaluations
    from tracepond.store import assessments

    events = otlp_evaluations.build_evaluation_events(settings)
    if events is None:
        return None
    assessments.add_listener(events)

    def detach() -> None:
        assessments.remove_listener(events)
        events.shutdown()

    return detach


def attach_metric_reader(settings: Settings) -> Callable[[], None] | None:
    """Send the GenAI metrics to the same collector; returns how to stop (None: nothing sent).

    The reader joins the autologgers' metric providers whenever an endpoint is configured; the
    autologgers record into it only while metrics are on (``configure(metrics=True)``,
    ``autolog(metrics=True)`` or ``TRACEPOND_METRICS``), so with metrics off nothing is sent.
    It lives as long as the span processor: a reconfigure that replaces the processor replaces
    the reader too.
    """
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from tracepond.autolog import metrics
    from tracepond.exporters import otlp

    exporter = otlp.build_metric_exporter(settings)
    if exporter is None:
        return None
    reader = PeriodicExportingMetricReader(
        exporter, export_interval_millis=settings.metric_export_interval_ms
    )
    metrics.add_metric_reader(reader)

    def detach() -> None:
        # The reader's shutdown sends the last metrics; a collector that is away would hold it
        # for the exporter's whole retry timeout, so it gets a few seconds, then the exporter is
        # shut down, which ends its retries.
        closing = threading.Thread(
            target=metrics.remove_metric_reader, args=(reader,), name="tracepond-otlp-metrics"
        )
        closing.daemon = True
        closing.start()
        closing.join(METRICS_SHUTDOWN_S)
        if closing.is_alive():
            exporter.shutdown()
            closing.join(1.0)

    return detach


def _is_lake(store: str) -> bool:
    """A Parquet export (s3:// or a folder) is a read-only store: no writer for it."""
    return store.startswith("s3://") or os.path.isdir(store)


provider.set_processor_builder(build_processors)


def _judge_cost(
    provider_name: str, model: str, input_tokens: int, output_tokens: int
) -> float | None:
    """A judge call's cost from autolog's price tables (tracking may not import autolog)."""
    from tracepond.autolog import pricing  # on the first judge call: `import tracepond` stays cheap

    found = pricing.cost_for(provider_name, model, pricing.Usage(input_tokens, output_tokens))
    return None if found is None else found[0]


judge_models.set_cost_function(_judge_cost)
