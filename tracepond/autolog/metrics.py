"""GenAI client metrics: ``gen_ai.client.token.usage`` and ``gen_ai.client.operation.duration``.

Off unless the user enables them (``autolog(metrics=True)``, ``configure(metrics=True)`` or
``TRACEPOND_METRICS=1``). When on, every traced call records into:

- one OpenTelemetry SDK ``MeterProvider`` per reader given to :func:`add_metric_reader` (the OTLP
  exporter adds its ``PeriodicExportingMetricReader`` there; tests add an ``InMemoryMetricReader``);
- the application's global ``MeterProvider`` (a no-op unless the app installed an SDK one).

Both histograms carry the bucket boundaries the semantic conventions specify
(``explicit_bucket_boundaries_advisory``) and the attributes they list: ``gen_ai.operation.name``,
``gen_ai.provider.name``, ``gen_ai.request.model``, ``gen_ai.response.model``,
``server.address`` / ``server.port``, ``error.type`` on failures and ``gen_ai.token.type``
(``input`` / ``output``) on token usage.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import Histogram, Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader

from tracepond.conventions import attributes as attr

if TYPE_CHECKING:
    from tracepond.autolog.provider import CallRecord

TOKEN_USAGE = "gen_ai.client.token.usage"
OPERATION_DURATION = "gen_ai.client.operation.duration"

# Bucket boundaries from the GenAI metrics conventions.
TOKEN_USAGE_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip

_lock = threading.Lock()
_providers: list[tuple[MetricReader, MeterProvider]] = []
_instruments: list[tuple[Histogram, Histogram]] | None = None


def add_metric_reader(reader: MetricReader) -> MeterProvider:
    """Send tracepond's GenAI metrics to ``reader`` (through a MeterProvider of its own)."""
    global _instruments
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    with _lock:
        _providers.append((reader, provider))
        _instruments = None
    return provider


def remove_metric_reader(reader: MetricReader) -> None:
    """Stop sending to ``reader`` and shut its MeterProvider down (which shuts the reader down)."""
    global _instruments
    with _lock:
        kept = [(r, p) for r, p in _providers if r is not reader]
        dropped = [p for r, p in _providers if r is reader]
        _providers[:] = kept
        _instruments = None
    for provider in dropped:
        provider.shutdown()


def shutdown() -> None:
    """Flush and shut down every MeterProvider tracepond made (at exit)."""
    for reader, _provider in list(_providers):
        remove_metric_reader(reader)


def _make_instruments(meter: Meter) -> tuple[Histogram, Histogram]:
    tokens = meter.create_histogram(
        TOKEN_USAGE,
        unit="{token}",
        description="Number of input and output tokens used.",
        explicit_bucket_boundaries_advisory=list(TOKEN_USAGE_BUCKETS),
    )
    duration = meter.create_histogram(
        OPERATION_DURATION,
        unit="s",
        description="GenAI operation duration.",
        explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
    )
    return tokens, duration


def _current_instruments() -> list[tuple[Histogram, Histogram]]:
    global _instruments
    instruments = _instruments
    if instruments is None:
        with _lock:
            meters = [provider.get_meter("tracepond") for _reader, provider in _providers]
            meters.append(otel_metrics.get_meter("tracepond"))
            instruments = _instruments = [_make_instruments(meter) for meter in meters]
    return instruments


def record_call(record: CallRecord, duration_s: float, error: BaseException | None) -> None:
    """Record one finished call's duration and token usage."""
    attributes: dict[str, Any] = {
        attr.GEN_AI_OPERATION_NAME: record.operation.operation_name,
        attr.GEN_AI_PROVIDER_NAME: record.provider,
    }
    if record.request_model:
        attributes[attr.GEN_AI_REQUEST_MODEL] = record.request_model
    if record.response_model:
        attributes[attr.GEN_AI_RESPONSE_MODEL] = record.response_model
    server = record.attributes.get(attr.SERVER_ADDRESS)
    if server is not None:
        attributes[attr.SERVER_ADDRESS] = server
        port = record.attributes.get(attr.SERVER_PORT)
        if port is not None:
            attributes[attr.SERVER_PORT] = port
    duration_attributes = attributes
    if error is not None:
        duration_attributes = {**attributes, attr.ERROR_TYPE: type(error).__qualname__}
    for tokens, duration in _current_instruments():
        duration.record(duration_s, duration_attributes)
        if record.input_tokens is not None:
            tokens.record(record.input_tokens, {**attributes, attr.GEN_AI_TOKEN_TYPE: "input"})
        if record.output_tokens is not None:
            tokens.record(record.output_tokens, {**attributes, attr.GEN_AI_TOKEN_TYPE: "output"})
