"""`tracepond import FILE...`: OTLP JSON lines (the collector's file exporter output) into the
store; a bad file is named with its line and nothing of any file is written."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.interop.stores import SpanFactory, days_of_traces
from tracepond.cli import main
from tracepond.exporters.otlp_json import ImportFileError, import_files
from tracepond.store.connection import read_connection

START = dt.datetime(2026, 11, 28, 10, 0)


def otlp_json_line(spans: list) -> str:
    """One ExportTraceServiceRequest as the collector's file exporter writes it: OTLP/JSON,
    lowerCamelCase names, hex ids, one request per line."""
    document = json_format.MessageToDict(encode_spans(spans))
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = bytes.fromhex(_b64_to_hex(span[key])).hex()
    return json.dumps(document, separators=(",", ":"))


def _b64_to_hex(value: str) -> str:
    import base64

    return base64.b64decode(value).hex()


def write_file(path: Path, lines: list[str], compress: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def span_keys(store: str) -> set[tuple[str, str]]:
    with read_connection(store) as conn:
        return {
            tuple(row) for row in conn.execute("SELECT trace_id, span_id FROM spans").fetchall()
        }


@pytest.fixture
def factory() -> SpanFactory:
    return SpanFactory()


def test_collector_file_lines_arrive_as_store_rows(factory: SpanFactory, tmp_path: Path) -> None:
    first, second = factory.trace(START), factory.trace(START + dt.timedelta(minutes=1), error=True)
    path = write_file(
        tmp_path / "traces.jsonl", [otlp_json_line(first.spans), "", otlp_json_line(second.spans)]
    )
    store = str(tmp_path / "imported.duckdb")
    result = import_files(store, [path])
    assert (result.files, result.lines, result.spans_read, result.spans_written) == (1, 2, 6, 6)
    expected = {
        (format(s.context.trace_id, "032x"), format(s.context.span_id, "016x"))
        for s in first.spans + second.spans
    }
    assert span_keys(store) == expected
    with read_connection(store) as conn:
        traces = dict(conn.execute("SELECT trace_id, status FROM traces").fetchall())
        model, tokens, events = conn.execute(
            "SELECT any_value(model), sum(input_tokens), "
            "(SELECT count(*) FROM span_events) FROM spans WHERE span_type = 'CHAT_MODEL'"
        ).fetchone()
    assert traces == {first.trace_id: "OK", second.trace_id: "ERROR"}
    assert (model, tokens, events) == ("gpt-4o-mini", 2 * (10 + 11), 4)


def test_same_rows_as_the_store_that_recorded_them(tmp_path: Path) -> None:
    """Spans written by the store's writer and the same spans imported from OTLP JSON match."""
    original = str(tmp_path / "original.duckdb")
    made = days_of_traces(original, [START], per_day=2)
    path = write_file(tmp_path / "t.jsonl", [otlp_json_line(t.spans) for t in made])
    imported = str(tmp_path / "imported.duckdb")
    import_files(imported, [path])
    query = "SELECT * EXCLUDE (attributes), attributes::VARCHAR FROM spans ORDER BY span_id"
    with read_connection(original) as a, read_connection(imported) as b:
        assert a.execute(query).fetchall() == b.execute(query).fetchall()


def test_gzip_files_and_several_files_in_one_transaction(
    factory: SpanFactory, tmp_path: Path
) -> None:
    one = write_file(tmp_path / "a.jsonl.gz", [otlp_json_line(factory.trace(START).spans)], True)
    two = write_file(tmp_path / "b.jsonl", [otlp_json_line(factory.trace(START).spans)])
    store = str(tmp_path / "s.duckdb")
    runner = CliRunner()
    result = runner.invoke(main, ["import", str(one), str(two), "--store", store])
    assert result.exit_code == 0, result.output
    assert "imported 6 spans from 2 lines of 2 files" in result.output
    again = runner.invoke(main, ["import", str(one), str(two), "--store", store])
    assert again.exit_code == 0 and "imported 0 spans" in again.output
    assert "6 already in the store" in again.output
    assert len(span_keys(store)) == 6


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "line 2: body is not valid JSON"),
        ('["a list"]', "line 2: JSON body must be an object"),
        ('{"resourceSpans": "nope"}', "line 2: JSON body is not an ExportTraceServiceRequest"),
        (
            '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"01"}]}]}]}',
            "line 2: traceId 'zz' is not a hex string",
        ),
        (
            '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00","spanId":"0102030405060708","name":"x"}]}]}]}',
            "line 2: span 'x': trace_id must be 16 bytes",
        ),
    ],
)
def test_bad_line_names_file_and_line_and_writes_nothing(
    factory: SpanFactory, tmp_path: Path, bad_line: str, message: str
) -> None:
    store = str(tmp_path / "s.duckdb")
    good = write_file(tmp_path / "good.jsonl", [otlp_json_line(factory.trace(START).spans)])
    import_files(store, [good])
    before = span_keys(store)
    bad = write_file(tmp_path / "bad.jsonl", [otlp_json_line(factory.trace(START).spans), bad_line])
    later = write_file(tmp_path / "later.jsonl", [otlp_json_line(factory.trace(START).spans)])
    result = CliRunner().invoke(main, ["import", str(later), str(bad), "--store", store])
    assert result.exit_code != 0
    assert f"{bad}, {message}" in result.output
    assert "Traceback" not in result.output
    assert span_keys(store) == before  # neither the good line of bad.jsonl nor later.jsonl


def test_missing_file_and_directory_are_clear_errors(tmp_path: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    with pytest.raises(ImportFileError, match=r"absent\.jsonl: no such file"):
        import_files(store, [tmp_path / "absent.jsonl"])
    with pytest.raises(ImportFileError, match="is a directory"):
        import_files(store, [tmp_path])
    assert not Path(store).exists()


def test_truncated_gzip_is_named(factory: SpanFactory, tmp_path: Path) -> None:
    path = write_file(
        tmp_path / "t.jsonl.gz", [otlp_json_line(factory.trace(START).spans)] * 50, True
    )
    path.write_bytes(path.read_bytes()[:-20])
    store = str(tmp_path / "s.duckdb")
    with pytest.raises(ImportFileError, match=r"t\.jsonl\.gz, line \d+: cannot read"):
        import_files(store, [path])
    assert not Path(store).exists()


def test_file_that_is_not_a_store_is_left_alone(factory: SpanFactory, tmp_path: Path) -> None:
    target = tmp_path / "notes.duckdb"
    target.write_text("my notes")
    path = write_file(tmp_path / "t.jsonl", [otlp_json_line(factory.trace(START).spans)])
    result = CliRunner().invoke(main, ["import", str(path), "--store", str(target)])
    assert result.exit_code != 0 and "not a DuckDB database" in result.output
    assert target.read_text() == "my notes"
