"""A span exporter that stores spans the way a peer's benchmark needs: OTLP protobuf,
length-prefixed, appended to a file (the work of storing spans, short of a database).

Imports OpenTelemetry only when called, so it loads in any benchmark environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def otlp_file_exporter(path: Path) -> Any:
    """A SpanExporter that stores spans: OTLP protobuf, length-prefixed, appended to a file."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class OtlpFileExporter(SpanExporter):
        def __init__(self) -> None:
            self.file = path.open("ab")
            self.root_spans = 0
            self.bytes_written = 0

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            payload = encode_spans(spans).SerializeToString()
            self.file.write(len(payload).to_bytes(4, "little") + payload)
            self.bytes_written += len(payload) + 4
            self.root_spans += sum(1 for span in spans if span.parent is None)
            return SpanExportResult.SUCCESS

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            self.file.flush()
            return True

        def shutdown(self) -> None:
            self.file.close()

    return OtlpFileExporter()
