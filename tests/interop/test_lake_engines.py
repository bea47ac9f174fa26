"""The Parquet lake that `tracepond export` writes, read by the engines teams already run.

Spark (pyspark on Java 17) and ClickHouse (chDB, the engine in-process) answer the questions users
ask of their traces (traces per model per day, p95 latency, token and cost sums, errors by
provider, spans joined to their traces, time bounds) with exactly DuckDB's answers over the same
files. Partition pruning is shown by spoiling every file of the other days: a query for one day
still answers, and the same query over all days fails, so the engine read only that day's files.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from tests.interop.stores import SpanFactory, write
from tracepond.cli import main

DAYS = [
    dt.datetime(2026, 11, 27, 8, 0),
    dt.datetime(2026, 11, 28, 8, 0),
    dt.datetime(2026, 11, 29, 8, 0),
]
# (provider, model, cost of one call in USD, child span duration in ms)
CALLS = [
    ("openai", "gpt-4o-mini", 0.00015, 40),
    ("openai", "gpt-4o", 0.0025, 120),
    ("groq", "llama-3.1-8b-instant", 0.00005, 15),
    ("aws.bedrock", "anthropic.claude-3-haiku", 0.00025, 300),
]
PRUNED_DAY = "2026-11-27"  # the first day: DuckDB and chDB infer the schema from its file


@dataclass(frozen=True)
class Dialect:
    """What differs between the engines in the questions below."""

    day: str  # the `date` partition column as 'YYYY-MM-DD' text
    p95: str  # the 95th percentile (linear interpolation) of `{}`
    micros: str  # a timestamp as microseconds since the epoch


DUCKDB = Dialect("CAST(date AS VARCHAR)", "quantile_cont({}, 0.95)", "epoch_us({})")
SPARK = Dialect("CAST(date AS STRING)", "percentile({}, 0.95)", "unix_micros({})")
CLICKHOUSE = Dialect(
    "toString(date)", "quantileExactInclusive(0.95)({})", "toUnixTimestamp64Micro({})"
)


def questions(d: Dialect) -> dict[str, str]:
    """The questions, in each engine's SQL, over views named `spans` and `traces`."""
    return {
        "traces per model per day": f"SELECT {d.day} AS day, model, count(DISTINCT trace_id) "
        f"FROM spans WHERE model IS NOT NULL GROUP BY {d.day}, model",
        "p95 latency per model": f"SELECT model, {d.p95.format('duration_ms')} FROM spans "
        "WHERE model IS NOT NULL GROUP BY model",
        "p95 trace latency per day": f"SELECT {d.day}, {d.p95.format('duration_ms')} FROM traces "
        f"GROUP BY {d.day}",
        "tokens and cost per provider and model": "SELECT provider, model, sum(input_tokens), "
        "sum(output_tokens), sum(cost_usd) FROM spans WHERE provider IS NOT NULL "
        "GROUP BY provider, model",
        "errors per provider": "SELECT provider, count(*) FROM spans WHERE status = 'ERROR' "
        "GROUP BY provider",
        "spans joined to their traces": "SELECT t.status, s.model, count(*), sum(s.output_tokens), "
        "sum(t.span_count) FROM spans s JOIN traces t ON s.trace_id = t.trace_id "
        "WHERE s.model IS NOT NULL GROUP BY t.status, s.model",
        "error traces and their cost": "SELECT t.trace_id, t.error_count, sum(s.cost_usd) "
        "FROM traces t JOIN spans s ON s.trace_id = t.trace_id WHERE t.status = 'ERROR' "
        "GROUP BY t.trace_id, t.error_count",
        "time bounds per day": f"SELECT {d.day}, {d.micros.format('min(start_time)')}, "
        f"{d.micros.format('max(end_time)')}, count(*) FROM spans GROUP BY {d.day}",
    }


def day_question(day: str) -> str:
    """One day's figures, filtered on the partition column itself (every engine prunes on it;
    ClickHouse does not through an expression such as toString(date))."""
    return f"SELECT count(*), sum(input_tokens), sum(output_tokens) FROM spans WHERE date = '{day}'"


ALL_DAYS = "SELECT count(*), sum(input_tokens) FROM spans"


def normalized(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows as plain Python values, in one order: engines return their own number types, and
    float sums may differ in the last bits with the order they add in."""

    def value(item: Any) -> Any:
        if item is None:
            return None
        if isinstance(item, Decimal):
            item = float(item)
        if hasattr(item, "item") and not isinstance(item, (str, bytes)):  # numpy scalars
            item = item.item()
        if isinstance(item, float):
            if math.isnan(item):
                return None
            return round(item, 9) if item != int(item) else int(item)
        return item

    cleaned = [tuple(value(item) for item in row) for row in rows]
    return sorted(cleaned, key=lambda row: [(item is None, str(item)) for item in row])


# --- the lake ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 3 days x 4 providers/models (one failing trace per model and day), exported
    with `tracepond export --format parquet`."""
    folder = tmp_path_factory.mktemp("engines")
    store = str(folder / "t.duckdb")
    factory = SpanFactory()
    spans = []
    for day in DAYS:
        for number, (provider, model, cost, child_ms) in enumerate(CALLS):
            for index in range(3):
                start = day + dt.timedelta(minutes=15 * number + index)
                made = factory.trace(
                    start,
                    children=1 + index,
                    error=index == 2,
                    provider=provider,
                    model=model,
                    cost_usd=cost,
                    child_ms=child_ms * (index + 1) + day.day,
                )
                spans.extend(made.spans)
    write(store, spans)
    out = folder / "lake"
    result = CliRunner().invoke(
        main, ["export", "--format", "parquet", "--out", str(out), "--store", store]
    )
    assert result.exit_code == 0, result.output
    assert "exported" in result.output
    return out


@pytest.fixture(scope="module")
def spoiled(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the lake where every Parquet file of the days after PRUNED_DAY is garbage."""
    copy = tmp_path_factory.mktemp("spoiled") / "lake"
    shutil.copytree(lake, copy)
    spoiled_files = [
        path for path in copy.rglob("*.parquet") if f"date={PRUNED_DAY}" not in path.parts[-2]
    ]
    assert spoiled_files
    for path in spoiled_files:
        path.write_bytes(b"not a parquet file" * 64)
    return copy


# --- one runner per engine --------------------------------------------------------------------

Runner = Callable[[Path, str], list[tuple[Any, ...]]]


def run_duckdb(lake: Path, query: str) -> list[tuple[Any, ...]]:
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for table in ("spans", "traces"):
            source = f"{lake}/{table}/*/*.parquet"
            conn.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{source}', "
                "hive_partitioning = true)"
            )
        return conn.execute(query).fetchall()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark session for the module (the JVM takes seconds to start)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("tracepond-lake-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("FATAL")  # the spoiled-file reads log errors by design
    try:
        yield session
    finally:
        session.stop()


def spark_runner(session: Any, schemas: dict[str, Any] | None = None) -> Runner:
    def run(lake: Path, query: str) -> list[tuple[Any, ...]]:
        for table in ("spans", "traces"):
            reader = session.read
            if schemas is not None:  # the intact lake's schema: no footer read to infer one
                reader = reader.schema(schemas[table])
            reader.parquet(str(lake / table)).createOrReplaceTempView(table)
        return [tuple(row) for row in session.sql(query).collect()]

    return run


def chdb_runner(structures: dict[str, str] | None = None) -> Runner:
    def run(lake: Path, query: str) -> list[tuple[Any, ...]]:
        from chdb import session as chdb_session

        with chdb_session.Session() as conn:
            for table in ("spans", "traces"):
                # the intact lake's structure, when given: no footer read to infer one
                structure = (
                    ", '" + structures[table].replace("'", "\\'") + "'" if structures else ""
                )
                # A table over the table function, not a view: a view does not pass the
                # partition filter down to the file listing.
                conn.query(
                    f"CREATE TABLE {table} AS file('{lake}/{table}/*/*.parquet', Parquet{structure})"
                )
            frame = conn.query(query + " SETTINGS use_hive_partitioning = 1", "DataFrame")
            return list(frame.itertuples(index=False, name=None))

    return run


def chdb_structures(lake: Path) -> dict[str, str]:
    """Each table's columns as ClickHouse infers them from the intact files (the hive `date`
    column comes from the folders)."""
    from chdb import session as chdb_session

    structures = {}
    with chdb_session.Session() as conn:
        for table in ("spans", "traces"):
            frame = conn.query(
                f"DESCRIBE file('{lake}/{table}/*/*.parquet', Parquet) "
                "SETTINGS use_hive_partitioning = 0",
                "DataFrame",
            )
            structures[table] = ", ".join(
                f"{name} {kind}"
                for name, kind in [
                    *zip(frame["name"], frame["type"], strict=True),
                    ("date", "Date"),
                ]
            )
    return structures


@pytest.fixture(scope="module")
def engines(spark: Any) -> dict[str, tuple[Dialect, Runner]]:
    return {"spark": (SPARK, spark_runner(spark)), "chdb": (CLICKHOUSE, chdb_runner())}


# --- the answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("question", sorted(questions(DUCKDB)))
@pytest.mark.parametrize("engine", ["spark", "chdb"])
def test_engine_answers_like_duckdb(
    lake: Path, engines: dict[str, tuple[Dialect, Runner]], engine: str, question: str
) -> None:
    expected = normalized(run_duckdb(lake, questions(DUCKDB)[question]))
    assert expected, "the question has an answer"
    dialect, run = engines[engine]
    assert normalized(run(lake, questions(dialect)[question])) == expected


def test_duckdb_answers_are_the_stores(lake: Path) -> None:
    """The reference is right: DuckDB over the lake gives the figures the store was made of."""
    rows = dict(
        (model, traces)
        for _day, model, traces in run_duckdb(lake, questions(DUCKDB)["traces per model per day"])
    )
    assert set(rows) == {model for _p, model, _c, _ms in CALLS} and set(rows.values()) == {3}
    errors = dict(run_duckdb(lake, questions(DUCKDB)["errors per provider"]))
    # one failing trace per model and day: its last LLM span and its root fail
    assert errors == {None: 12, "openai": 6, "groq": 3, "aws.bedrock": 3}
    bounds = run_duckdb(lake, questions(DUCKDB)["time bounds per day"])
    assert sorted(day for day, *_ in bounds) == ["2026-11-27", "2026-11-28", "2026-11-29"]
    first = min(start for _day, start, _end, _count in bounds)
    assert first == int(DAYS[0].replace(tzinfo=dt.timezone.utc).timestamp() * 1_000_000)


# --- partition pruning ------------------------------------------------------------------------


def test_duckdb_reads_only_the_days_files(lake: Path, spoiled: Path) -> None:
    expected = run_duckdb(lake, day_question(PRUNED_DAY))
    assert expected[0][0] > 0
    assert run_duckdb(spoiled, day_question(PRUNED_DAY)) == expected
    with pytest.raises(duckdb.Error):
        run_duckdb(spoiled, ALL_DAYS)


def test_spark_reads_only_the_days_files(lake: Path, spoiled: Path, spark: Any) -> None:
    schemas = {table: spark.read.parquet(str(lake / table)).schema for table in ("spans", "traces")}
    run = spark_runner(spark, schemas)
    expected = run(lake, day_question(PRUNED_DAY))
    assert expected[0][0] > 0
    assert run(spoiled, day_question(PRUNED_DAY)) == expected
    plan = spark.sql(day_question(PRUNED_DAY))._jdf.queryExecution().executedPlan().toString()
    assert "PartitionFilters: [" in plan and "isnotnull(date" in plan  # pruned by the folders
    with pytest.raises(Exception, match="is not a Parquet file"):
        run(spoiled, ALL_DAYS)


def test_chdb_reads_only_the_days_files(lake: Path, spoiled: Path) -> None:
    from chdb._exceptions import ChdbError  # what Session.query raises (chdb.ChdbError is not it)

    run = chdb_runner(chdb_structures(lake))
    expected = run(lake, day_question(PRUNED_DAY))
    assert expected[0][0] > 0
    assert run(spoiled, day_question(PRUNED_DAY)) == expected
    with pytest.raises(ChdbError, match="Not a Parquet file"):
        run(spoiled, ALL_DAYS)
