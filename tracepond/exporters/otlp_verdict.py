"""Why the collector did not take a batch: retry it (and when), or never.

The OpenTelemetry exporters return only SUCCESS or FAILURE. The OTLP specification says more:
a client retries only what is transient (HTTP 429, 502, 503, 504; gRPC CANCELLED,
DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED when the
server sends RetryInfo), waits what the server asks (``Retry-After``, RetryInfo), and never
retries the rest: a 400 or a 401 will be a 400 or a 401 again in five minutes.

So each exporter reports the collector's answer to a :class:`VerdictRecorder` through a public
hook of its transport: a ``requests`` response hook for OTLP/HTTP, a gRPC client interceptor for
OTLP/gRPC. The OTLP span processor (tracepond.exporters.otlp_queue) reads the last verdict after
a failed export. No answer at all (connection refused, a timeout) records nothing and counts as
transient: the collector is away.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
from dataclasses import dataclass
from typing import Any

RETRYABLE_HTTP = frozenset({429, 502, 503, 504})
RETRYABLE_GRPC = frozenset(
    {"CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"}
)
_RETRY_INFO_KEY = "google.rpc.retryinfo-bin"


@dataclass(frozen=True)
class Verdict:
    """The collector's answer to one failed request."""

    retryable: bool
    reason: str  # 'HTTP 401 Unauthorized: <the collector's message>', 'gRPC UNAUTHENTICATED: ...'
    retry_after_s: float | None = None  # what the collector asked to wait, when it said


class VerdictRecorder:
    """The last answer of a failed request (cleared before each export)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: Verdict | None = None

    def clear(self) -> None:
        with self._lock:
            self._last = None

    def record(self, verdict: Verdict | None) -> None:
        with self._lock:
            self._last = verdict

    def last(self) -> Verdict | None:
        with self._lock:
            return self._last


# --- OTLP/HTTP --------------------------------------------------------------------------------


def http_session(recorder: VerdictRecorder) -> Any:
    """A ``requests.Session`` for the OTLP/HTTP exporter that records each answer."""
    import requests

    session = requests.Session()

    def on_response(response: Any, *args: Any, **kwargs: Any) -> Any:
        recorder.record(http_verdict(response))
        return response

    session.hooks["response"].append(on_response)
    return session


def http_verdict(response: Any) -> Verdict | None:
    """None for a success; else what the status says about retrying."""
    status = int(response.status_code)
    if 200 <= status < 300:
        return None
    reason = f"HTTP {status} {response.reason or ''}".rstrip()
    message = _status_message(response.content, response.headers.get("content-type", ""))
    if message:
        reason += f": {message}"
    retryable = status in RETRYABLE_HTTP
    wait = parse_retry_after(response.headers.get("retry-after")) if retryable else None
    return Verdict(retryable, reason, wait)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (moment - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _status_message(body: bytes, content_type: str) -> str:
    """The message of the google.rpc.Status an OTLP/HTTP error body carries, if any."""
    if not body:
        return ""
    try:
        from google.protobuf import json_format
        from google.rpc.status_pb2 import Status
    except ImportError:
        return ""
    status = Status()
    try:
        if "json" in content_type:
            json_format.Parse(body, status, ignore_unknown_fields=True)
        else:
            status.ParseFromString(body)
    except Exception:  # not a Status: show the start of a plain-text body
        return body[:200].decode("utf-8", "replace").strip() if "text" in content_type else ""
    return str(status.message)


# --- OTLP/gRPC --------------------------------------------------------------------------------


def grpc_verdict(code: Any, details: str | None, trailing: Any) -> Verdict | None:
    """None for OK; else what the status code (and RetryInfo) says about retrying."""
    name = getattr(code, "name", str(code))
    if name == "OK":
        return None
    wait = _retry_info_s(trailing)
    retryable = name in RETRYABLE_GRPC or (name == "RESOURCE_EXHAUSTED" and wait is not None)
    reason = f"gRPC {name}" + (f": {details}" if details else "")
    return Verdict(retryable, reason, wait if retryable else None)


def _retry_info_s(trailing: Any) -> float | None:
    for key, value in trailing or ():
        if key == _RETRY_INFO_KEY:
            from google.rpc.error_details_pb2 import RetryInfo

            info = RetryInfo()
            info.ParseFromString(value)
            return float(info.retry_delay.seconds + info.retry_delay.nanos / 1e9)
    return None


def grpc_interceptor(recorder: VerdictRecorder) -> Any:
    """A unary client interceptor recording each call's status."""
    import grpc

    class _Recording(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            outcome = continuation(details, request)
            error = outcome.exception()
            if error is None:
                recorder.record(None)
            else:
                recorder.record(
                    grpc_verdict(error.code(), error.details(), error.trailing_metadata())
                )
            return outcome

    return _Recording()


def grpc_span_exporter(recorder: VerdictRecorder, **options: Any) -> Any:
    """The OTel OTLP/gRPC span exporter with its channel intercepted by :func:`grpc_interceptor`.

    The exporter builds (and rebuilds, on UNAVAILABLE) its channel in
    ``_initialize_channel_and_stub``; that is the one place its channel can be wrapped, so the
    subclass overrides it and nothing else.
    """
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

    class _RecordingExporter(OTLPSpanExporter):  # type: ignore[misc]
        def _initialize_channel_and_stub(self) -> None:
            super()._initialize_channel_and_stub()  # type: ignore[no-untyped-call]
            self._channel = grpc.intercept_channel(self._channel, grpc_interceptor(recorder))
            self._client = TraceServiceStub(self._channel)  # type: ignore[no-untyped-call,assignment]

    return _RecordingExporter(**options)
