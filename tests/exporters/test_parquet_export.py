"""`tracepond export --format parquet`: layout, portable types, incremental and idempotent runs,
traces updated after export, and bad folders or stores refused without changing anything."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.interop.stores import SpanFactory, days_of_traces, write
from tracepond.cli import main
from tracepond.errors import NotAStoreError, StoreError
from tracepond.exporters.parquet import MANIFEST, ExportError, export_parquet
from tracepond.store.connection import read_connection

DAY1 = dt.datetime(2026, 11, 27, 23, 58)
DAY2 = dt.datetime(2026, 11, 28, 12, 0)


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = str(tmp_path / "t.duckdb")
    days_of_traces(path, [DAY1, DAY2], per_day=3)
    return path


def files(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*.parquet")}


def lake_rows(out: Path, table: str, order: str) -> list[tuple]:
    """The exported rows as DuckDB's own Parquet reader sees them (UTC times made naive, as
    the store keeps them)."""
    glob = str(out / table / "*" / "*.parquet")
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        source = f"read_parquet('{glob}', hive_partitioning = true)"
        kinds = conn.execute(f"DESCRIBE SELECT * EXCLUDE (date) FROM {source}").fetchall()
        select = ", ".join(
            f"{name}::TIMESTAMP" if kind == "TIMESTAMP WITH TIME ZONE" else name
            for name, kind, *_ in kinds
        )
        return conn.execute(f"SELECT {select} FROM {source} ORDER BY {order}").fetchall()


def store_rows(store: str, table: str, order: str) -> list[tuple]:
    with read_connection(store) as conn:
        columns = [row[0] for row in conn.execute(f"DESCRIBE {table}").fetchall()]
        select = ", ".join(
            f"{c}::VARCHAR" if c in {"attributes", "inputs", "outputs", "tags", "metadata"} else c
            for c in columns
        )
        return conn.execute(f"SELECT {select} FROM {table} ORDER BY {order}").fetchall()


ORDER = {
    "spans": "trace_id, span_id",
    "span_events": "trace_id, span_id, time",
    "traces": "trace_id",
}


def assert_export_equals_store(store: str, out: Path) -> None:
    for table, order in ORDER.items():
        assert lake_rows(out, table, order) == store_rows(store, table, order), table


def test_layout_is_hive_partitioned_by_utc_day(store: str, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    result = export_parquet(store, out)
    assert result.rows == {"spans": 18, "span_events": 12, "traces": 6}
    partitions = {path.parent.relative_to(out).as_posix() for path in out.rglob("*.parquet")}
    assert partitions == {
        f"{table}/date={day}"
        for table in ("spans", "span_events", "traces")
        for day in ("2026-11-27", "2026-11-28")
    }
    assert all(Path(name).name.startswith("part-") for name in files(out))
    assert_export_equals_store(store, out)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["runs"][-1]["rows"] == result.rows
    assert sorted(manifest["runs"][-1]["files_added"]) == sorted(files(out))
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging, no lock left


def test_files_use_only_standard_parquet_types(store: str, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    export_parquet(store, out)
    for name in files(out):
        schema = pq.read_schema(out / name)
        assert "date" not in schema.names  # the partition lives in the folder name only
        for field in schema:
            assert str(field.type) in {
                "string",
                "int64",
                "double",
                "bool",
                "timestamp[us, tz=UTC]",
            }, (
                name,
                field,
            )
        parquet_schema = pq.ParquetFile(out / name).schema
        for index in range(len(parquet_schema)):
            logical = str(parquet_schema.column(index).logical_type)
            assert "JSON" not in logical and "UUID" not in logical, (name, logical)
    spans = next(out.glob("spans/*/*.parquet"))
    start = pq.ParquetFile(spans).schema.column(pq.read_schema(spans).names.index("start_time"))
    assert "isAdjustedToUTC=true" in str(start.logical_type) and "microseconds" in str(
        start.logical_type
    )


def test_pyarrow_and_pandas_read_the_folder_as_a_hive_dataset(store: str, tmp_path: Path) -> None:
    import pyarrow.dataset as ds

    out = tmp_path / "lake"
    export_parquet(store, out)
    spans = ds.dataset(out / "spans", format="parquet", partitioning="hive").to_table()
    assert spans.num_rows == 18
    frame = spans.to_pandas()
    assert set(frame["date"].astype(str)) == {"2026-11-27", "2026-11-28"}
    attributes = json.loads(frame[frame["span_type"] == "CHAT_MODEL"]["attributes"].iloc[0])
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"


def test_second_run_exports_nothing(store: str, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    export_parquet(store, out)
    before = {name: (out / name).stat().st_mtime_ns for name in files(out)}
    again = export_parquet(store, out)
    assert again.nothing_new and again.rows == {"spans": 0, "span_events": 0, "traces": 0}
    assert {name: (out / name).stat().st_mtime_ns for name in files(out)} == before
    manifest = json.loads((out / MANIFEST).read_text())
    assert len(manifest["runs"]) == 1 and manifest["last_run_at"]


def test_new_spans_are_added_without_rewriting_old_files(store: str, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    export_parquet(store, out)
    before = files(out)
    day3 = dt.datetime(2026, 11, 29, 8, 0)
    factory = SpanFactory()
    added = [factory.trace(DAY2 + dt.timedelta(hours=1)), factory.trace(day3)]
    write(store, [span for trace in added for span in trace.spans])
    result = export_parquet(store, out)
    assert result.rows == {"spans": 6, "span_events": 4, "traces": 2}
    assert before < files(out) and not result.files_removed
    assert_export_equals_store(store, out)


def test_trace_updated_after_export_is_replaced_not_duplicated(store: str, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    factory = SpanFactory()
    made = factory.trace(DAY2 + dt.timedelta(hours=2))
    write(store, made.spans)
    export_parquet(store, out)
    late = factory.late_child(made, DAY2 + dt.timedelta(hours=2, seconds=2))
    write(store, [late])
    result = export_parquet(store, out)
    assert result.rows == {"spans": 1, "span_events": 0, "traces": 1}
    assert [name.split("/")[1] for name in result.files_removed] == ["date=2026-11-28"]
    rows = lake_rows(out, "traces", "trace_id")
    assert len([row for row in rows if row[0] == made.trace_id]) == 1
    assert_export_equals_store(store, out)
    assert export_parquet(store, out).nothing_new


def test_trace_whose_start_moves_to_an_earlier_day_leaves_no_stale_row(
    store: str, tmp_path: Path
) -> None:
    out = tmp_path / "lake"
    factory = SpanFactory()
    made = factory.trace(dt.datetime(2026, 11, 28, 0, 0, 30))
    write(store, made.spans)
    export_parquet(store, out)
    earlier = factory.late_child(made, dt.datetime(2026, 11, 27, 23, 59, 59))  # clock skew
    write(store, [earlier])
    export_parquet(store, out)
    traces = lake_rows(out, "traces", "trace_id")
    assert len([row for row in traces if row[0] == made.trace_id]) == 1
    assert_export_equals_store(store, out)


def test_interrupted_export_leftovers_are_cleaned_and_rows_completed(
    store: str, tmp_path: Path
) -> None:
    out = tmp_path / "lake"
    export_parquet(store, out)
    leftover = out / ".staging-deadbeef" / "spans" / "date=2026-11-28"
    leftover.mkdir(parents=True)
    (leftover / "part-half.parquet").write_bytes(b"PAR1 truncated")
    day_files = list((out / "spans").glob("date=2026-11-28/*.parquet"))
    lost = sum(pq.ParquetFile(path).metadata.num_rows for path in day_files)
    for path in day_files:
        path.unlink()  # as if the run died before this day's spans were moved in
    result = export_parquet(store, out)
    assert result.rows == {"spans": lost, "span_events": 0, "traces": 0}
    assert not (out / ".staging-deadbeef").exists()
    assert_export_equals_store(store, out)


def test_cli_export_reports_then_says_up_to_date(store: str, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    runner = CliRunner()
    first = runner.invoke(
        main, ["export", "--format", "parquet", "--out", str(out), "--store", store]
    )
    assert first.exit_code == 0, first.output
    assert "exported 18 spans, 12 span_events, 6 traces" in first.output
    second = runner.invoke(main, ["export", "--out", str(out), "--store", store])
    assert second.exit_code == 0 and "nothing new to export" in second.output


def test_cli_progress_bar_names_each_step(store: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["export", "--out", str(tmp_path / "lake"), "--store", store, "--progress"]
    )
    assert result.exit_code == 0, result.output
    assert "traces 2026-11-28" in result.stderr and "36/36" in result.stderr


def test_env_store_is_used_by_the_cli(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPOND_STORE", store)
    result = CliRunner().invoke(main, ["export", "--out", str(tmp_path / "lake")])
    assert result.exit_code == 0 and "18 spans" in result.output


# --- bad input: a clear error, nothing changed -----------------------------------------------


def test_out_that_is_a_file_is_refused(store: str, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    with pytest.raises(ExportError, match="is a file"):
        export_parquet(store, target)
    assert target.read_text() == "keep me"


def test_foreign_non_empty_folder_is_refused_untouched(store: str, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"meow")
    result = CliRunner().invoke(main, ["export", "--out", str(folder), "--store", store])
    assert result.exit_code != 0
    assert "not empty and holds no tracepond export" in result.output
    assert [p.name for p in folder.iterdir()] == ["cat.jpg"]


def test_missing_store_is_refused_and_no_folder_made(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no tracepond store"):
        export_parquet(str(tmp_path / "absent.duckdb"), tmp_path / "lake")
    assert not (tmp_path / "lake").exists() and not (tmp_path / "absent.duckdb").exists()


def test_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "data.duckdb"
    bogus.write_bytes(b"not duckdb at all" * 10)
    with pytest.raises(NotAStoreError):
        export_parquet(str(bogus), tmp_path / "lake")
    assert bogus.read_bytes() == b"not duckdb at all" * 10
    assert not (tmp_path / "lake").exists()


def test_concurrent_export_into_one_folder_is_refused(store: str, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    export_parquet(store, out)
    (out / ".export.lock").write_text(str(os.getpid()))
    before = files(out)
    with pytest.raises(ExportError, match="another export"):
        export_parquet(store, out)
    assert files(out) == before


def test_export_while_the_store_is_being_written(store: str, tmp_path: Path) -> None:
    """Export takes turns with a writer of the same store in this process (and in others,
    through the store's lock retry); a final run leaves the folder equal to the store."""
    out = tmp_path / "lake"
    written: list[int] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def keep_writing() -> None:
        factory = SpanFactory()
        try:
            while not stop.is_set() and len(written) < 200:
                moment = DAY2 + dt.timedelta(seconds=len(written))
                written.append(write(store, factory.trace(moment).spans))
        except BaseException as error:  # reported below: the test must see it
            failures.append(error)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        for _ in range(3):
            export_parquet(store, out)
    finally:
        stop.set()
        writer.join()
    assert not failures and written
    export_parquet(store, out)
    assert_export_equals_store(store, out)
