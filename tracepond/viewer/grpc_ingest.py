"""OTLP/gRPC trace ingest beside OTLP/HTTP: the TraceService on ``--grpc-port`` (default 4317).

An exporter configured with ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` and
``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317`` sends here. Requests go through the same
decoding (tracepond.otlp.decode) and the same group-commit writer as ``POST /v1/traces``
(tracepond.viewer.ingest.IngestWriter), and each is answered once its spans are committed, with
``partial_success`` when spans were rejected. gzip is grpcio's own (``grpc-encoding``).

The token rule is the HTTP one: with a token, every call carries ``authorization: Bearer
<token>`` or is refused with UNAUTHENTICATED; without one, the server listens on loopback only.
Failures answer with the codes OTLP clients act on: a busy store is UNAVAILABLE (retried), spans
that cannot be stored at all INTERNAL, malformed ids INVALID_ARGUMENT (neither retried).

grpcio is optional (``tracepond[otlp]`` brings it). :func:`start_grpc_ingest` says what
happened: started, or why not; ``tracepond ui`` decides whether that is an error (an explicit
``--grpc-port``) or a one-line notice (the default port, or grpcio missing).
"""

from __future__ import annotations

import hmac
import os
from concurrent import futures
from dataclasses import dataclass
from typing import Any

from tracepond.errors import OtlpDecodeError, StoreError, StoreLockedError
from tracepond.otlp.decode import MAX_BODY_BYTES, PROTOBUF, decode_spans, encode_response
from tracepond.viewer.ingest import IngestWriter

DEFAULT_GRPC_PORT = 4317
_WORKERS = 4  # concurrent calls; the writer commits them together anyway


@dataclass
class GrpcIngest:
    """What :func:`start_grpc_ingest` did: ``server`` when listening, else ``problem``."""

    server: Any = None
    port: int = 0
    problem: str | None = None

    def stop(self, grace_s: float = 2.0) -> None:
        if self.server is not None:
            self.server.stop(grace_s).wait(grace_s + 1)


def start_grpc_ingest(
    writer: IngestWriter, host: str, port: int, token: str | None = None
) -> GrpcIngest:
    """Listen for OTLP/gRPC on ``host:port``; never raises for a missing grpcio or a taken port."""
    # grpcio's core logs a failed bind to stderr itself; the caller says it once, in one line.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
    except ImportError as error:
        return GrpcIngest(problem=f"grpcio is not installed ({error.name}): pip install grpcio")
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="tracepond-grpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_BODY_BYTES),
            ("grpc.so_reuseport", 0),  # else a port another process holds would "bind" too
        ],
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        _TraceService(writer, token, grpc), server
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as error:  # grpcio raises when the address cannot be bound
        return GrpcIngest(port=port, problem=f"cannot listen on {address}: {error}")
    if not bound:
        return GrpcIngest(port=port, problem=f"cannot listen on {address} (port in use?)")
    server.start()
    return GrpcIngest(server=server, port=bound)


class _TraceService:
    """opentelemetry.proto's TraceService: Export(ExportTraceServiceRequest)."""

    def __init__(self, writer: IngestWriter, token: str | None, grpc: Any) -> None:
        self.writer = writer
        self.token = token
        self.grpc = grpc

    def Export(self, request: Any, context: Any) -> Any:  # the service's method name
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        codes = self.grpc.StatusCode
        if self.token is not None and not self._authorized(context):
            context.abort(
                codes.UNAUTHENTICATED, "missing or wrong token: send authorization: Bearer <token>"
            )
        try:
            decoded = decode_spans(request)
        except OtlpDecodeError as error:
            context.abort(codes.INVALID_ARGUMENT, str(error))
        if decoded.spans:
            try:
                self.writer.write(decoded.spans)
            except StoreLockedError as error:
                context.abort(codes.UNAVAILABLE, f"store busy, retry: {error}")
            except StoreError as error:
                context.abort(codes.INTERNAL, f"cannot store spans: {error}")
        return ExportTraceServiceResponse.FromString(encode_response(decoded.rejected, PROTOBUF))

    def _authorized(self, context: Any) -> bool:
        assert self.token is not None
        expected = self.token.encode()
        offered = [
            str(value)[7:].strip().encode()
            for key, value in context.invocation_metadata()
            if key.lower() == "authorization" and str(value)[:7].lower() == "bearer "
        ]
        return any(hmac.compare_digest(candidate, expected) for candidate in offered)
