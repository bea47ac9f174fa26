"""``tracepond import FILE...``: OTLP JSON files into the store, all or nothing.

The input is what the OpenTelemetry Collector's ``file`` exporter writes: one
``ExportTraceServiceRequest`` in OTLP/JSON per line (blank lines allowed; ``.gz`` files are read
compressed). Decoding and the conversion to store rows are the viewer's OTLP ingest's own
(:mod:`tracepond.otlp.decode`, :mod:`tracepond.otlp.spans`), so a span imported
from a file and one received over OTLP/HTTP become the same rows.

Every file is read and checked before anything is written: a line that is not JSON, not an
ExportTraceServiceRequest, or carries a span with a malformed id raises :class:`ImportFileError`
naming the file and the line, and the store is left as it was. The spans of all files are then
written in one transaction (spans already in the store are skipped, so importing a file twice
adds nothing).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from opentelemetry.sdk.trace import ReadableSpan

from tracepond.errors import ImportFileError, OtlpDecodeError
from tracepond.exporters.duckdb import write_spans
from tracepond.store.connection import DEFAULT_TIMEOUT_S


@dataclass
class ImportResult:
    files: int
    lines: int
    spans_read: int
    spans_written: int  # spans read minus those the store already had


def read_otlp_json(path: str | os.PathLike[str]) -> Iterator[tuple[int, list[ReadableSpan]]]:
    """Each non-blank line's spans, as (line number, spans); raises ImportFileError."""
    from tracepond.otlp.decode import JSON, decode_spans, parse_request
    from tracepond.otlp.spans import readable_span

    name = os.fspath(path)
    with _open(name) as file:
        for number, line in _lines(file, name):
            try:
                decoded = decode_spans(parse_request(line, JSON))
            except OtlpDecodeError as error:
                raise ImportFileError(f"{name}, line {number}: {error}") from None
            if decoded.rejected:
                raise ImportFileError(f"{name}, line {number}: {decoded.rejected[0]}")
            yield number, [readable_span(span) for span in decoded.spans]


def _open(name: str) -> BinaryIO | gzip.GzipFile:
    try:
        if name.endswith(".gz"):
            return gzip.open(name, "rb")
        return open(name, "rb")
    except FileNotFoundError:
        raise ImportFileError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImportFileError(f"{name}: is a directory, expected an OTLP JSON file") from None
    except PermissionError:
        raise ImportFileError(f"{name}: permission denied") from None


def _lines(file: Iterable[bytes], name: str) -> Iterator[tuple[int, bytes]]:
    number = 0
    try:
        for number, line in enumerate(file, start=1):
            if line.strip():
                yield number, line
    except (OSError, EOFError) as error:  # a truncated or corrupt .gz
        raise ImportFileError(f"{name}, line {number + 1}: cannot read: {error}") from None


def import_files(
    store: str, paths: Sequence[str | os.PathLike[str]], *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ImportResult:
    """Read every file, then write all their spans to ``store`` in one transaction."""
    if not paths:
        raise ImportFileError("no files to import")
    spans: list[ReadableSpan] = []
    lines = 0
    for path in paths:
        for _number, line_spans in read_otlp_json(path):
            lines += 1
            spans.extend(line_spans)
    written = write_spans(store, spans, timeout_s=timeout_s) if spans else 0
    return ImportResult(files=len(paths), lines=lines, spans_read=len(spans), spans_written=written)
