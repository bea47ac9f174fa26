"""The command line, end to end: `tracepond demo` in a real subprocess makes a store, and every
read command is checked against it; every error is one clear line and a non-zero exit."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tracepond import cli


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEPOND_", "OTEL_"))}
    return subprocess.run(
        [sys.executable, "-m", "tracepond.cli", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run `tracepond demo` once, in a fresh directory, as a user would."""
    workdir = tmp_path_factory.mktemp("demo")
    result = run_cli("demo", cwd=workdir)
    assert result.returncode == 0, result.stderr
    return workdir, result.stdout


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def one_line_error(result: click.testing.Result | subprocess.CompletedProcess[str]) -> str:
    text = result.stderr if isinstance(result, subprocess.CompletedProcess) else result.output
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_demo_says_where_the_traces_are_and_how_to_look(demo_store: tuple[Path, str]) -> None:
    workdir, output = demo_store
    store = workdir / "tracepond.duckdb"
    assert store.exists()
    assert str(store) in output
    for command in ("tracepond ui", "tracepond traces", "tracepond show ", "tracepond sql"):
        assert command in output
    from tracepond import sql

    traces, spans = sql(  # the conversation's traces, counted from the store itself
        "SELECT count(*), sum(span_count) FROM traces WHERE run_id = "
        "(SELECT run_id FROM runs WHERE name = 'demo conversation')",
        store=str(store),
    ).fetchall()[0]
    assert f"Traced the demo support bot: {traces} traces, {spans} spans" in output  # honest
    assert "one recovered from 1 failed step" in output
    assert "Evaluated the bot on 3 questions: concise/mean 1.00, contains/mean 0.67" in output
    assert "correctness/mean 0.67" in output and "tracepond eval show demo-evaluation" in output


def test_demo_evaluation_is_in_the_store(demo_store: tuple[Path, str]) -> None:
    store = str(demo_store[0] / "tracepond.duckdb")
    result = invoke("eval", "show", "demo-evaluation", "--store", store, "--format", "json")
    shown = json.loads(result.output)
    assert shown["run"]["rows"] == 3 and shown["run"]["experiment"] == "support-bot"
    judged = [row["scores"]["correctness"] for row in shown["rows"]]
    assert [j["value"] for j in judged] == ["yes", "no", "yes"]
    assert all(j["source_id"] == "openai:/gpt-4o-mini" and j["rationale"] for j in judged)


def test_demo_rate_limit_names_the_model_of_its_span(demo_store: tuple[Path, str]) -> None:
    from tracepond import sql

    store = str(demo_store[0] / "tracepond.duckdb")
    ((span_type, model, message),) = sql(
        "SELECT span_type, model, status_message FROM spans WHERE status = 'ERROR'", store=store
    ).fetchall()
    assert "429" in message and model in message and span_type == "EMBEDDING"
    ((failed,),) = sql(
        "SELECT count(*) FROM traces WHERE status = 'OK' AND error_count = 1", store=store
    ).fetchall()
    assert failed == 1  # the trace recovered, and says it had a failed step
    from tracepond import search_traces

    recovered = search_traces(filter="status = 'OK' AND error_count > 0", store=store)
    assert [t.info.error_count for t in recovered] == [1]  # the filter language knows it too


def test_demo_retrieval_returns_the_related_article(demo_store: tuple[Path, str]) -> None:
    from tracepond import sql
    from tracepond.demo import ARTICLES

    store = str(demo_store[0] / "tracepond.duckdb")
    found = dict(
        sql(
            "SELECT inputs->>'question', outputs->>0 FROM spans WHERE span_type = 'RETRIEVER'",
            store=store,
        ).fetchall()
    )
    assert found["How long do refunds take?"] == ARTICLES["refunds"]
    assert found["Where is my order A1043?"] == ARTICLES["order status"]
    assert found["Can I still change the delivery address?"] == ARTICLES["address"]


def test_demo_fills_the_runs_and_models_pages(demo_store: tuple[Path, str]) -> None:
    from tracepond import sql

    store = str(demo_store[0] / "tracepond.duckdb")
    ((run_id, status),) = sql(
        "SELECT run_id, status FROM runs WHERE name = 'demo conversation'", store=store
    ).fetchall()
    assert status == "FINISHED"
    assert sql(
        "SELECT count(*) FROM traces WHERE run_id = ?", [run_id], store=store
    ).fetchall() == [(4,)]
    assert (
        sql("SELECT count(*) FROM params WHERE run_id = ?", [run_id], store=store).fetchall()[0][0]
        == 3
    )
    ((name, version),) = sql("SELECT name, version FROM model_versions", store=store).fetchall()
    assert (name, str(version)) == ("support-bot", "1")
    assert sql(
        "SELECT count(*) FROM traces WHERE model_id IS NOT NULL", store=store
    ).fetchall() == [(4,)]


def test_demo_store_holds_the_app_steps_and_llm_calls(demo_store: tuple[Path, str]) -> None:
    workdir, _ = demo_store
    store = str(workdir / "tracepond.duckdb")
    from tracepond import sql

    conversation = (  # the conversation's run, not the evaluation's
        "trace_id IN (SELECT trace_id FROM traces WHERE run_id = "
        "(SELECT run_id FROM runs WHERE name = 'demo conversation'))"
    )
    kinds = dict(
        sql(
            f"SELECT span_type, count(*) FROM spans WHERE {conversation} GROUP BY span_type",
            store=store,
        ).fetchall()
    )
    assert kinds["CHAT_MODEL"] == 4  # three answers + the streamed reply after the tool call
    assert kinds["TOOL"] == 1 and kinds["RETRIEVER"] == 3 and kinds["EMBEDDING"] == 5
    errors = sql(
        "SELECT name, status_message FROM spans WHERE status = 'ERROR'", store=store
    ).fetchall()
    assert errors == [(errors[0][0], errors[0][1])] and "429" in errors[0][1]
    assert errors[0][0] == "embeddings text-embedding-3-small"
    sessions = sql(
        "SELECT DISTINCT session_id, user_id FROM traces WHERE session_id IS NOT NULL "
        "AND run_id = (SELECT run_id FROM runs WHERE name = 'demo conversation')",
        store=store,
    ).fetchall()
    assert sessions == [("demo-session-1", "ana")]
    assert not any(b"sk-demo-not-a-real-key" in chunk for chunk in [Path(store).read_bytes()])


def test_traces_lists_the_latest_with_full_ids(demo_store: tuple[Path, str]) -> None:
    workdir, _ = demo_store
    result = invoke("traces", "--store", str(workdir / "tracepond.duckdb"))
    assert result.exit_code == 0
    assert result.output.count("support turn") == 3
    assert result.output.count("build_index") == 1
    assert all(word in result.output for word in ("time", "status", "duration", "tokens", "spans"))


def test_traces_filter_and_its_errors(demo_store: tuple[Path, str]) -> None:
    store = str(demo_store[0] / "tracepond.duckdb")
    result = invoke("traces", "--store", store, "--filter", "span.status = 'ERROR'")
    assert result.exit_code == 0 and result.output.count("support turn") == 1
    bad = invoke("traces", "--store", store, "--filter", "staus = 'OK'")
    assert bad.exit_code == 1
    assert "staus" in one_line_error(bad)


def test_show_prints_the_span_tree(demo_store: tuple[Path, str]) -> None:
    store = str(demo_store[0] / "tracepond.duckdb")
    from tracepond import search_traces

    trace = search_traces(filter="span.span_type = 'TOOL'", store=store)[0]
    result = invoke("show", trace.info.trace_id, "--store", store)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert trace.info.trace_id in lines[0]
    tool_line = next(line for line in lines if "lookup_order" in line)
    answer_line = next(line for line in lines if "answer" in line and "AGENT" in line)
    assert tool_line.index("lookup_order") > answer_line.index("answer")  # drawn as a child
    as_json = json.loads(invoke("show", trace.info.trace_id, "--store", store, "--json").output)
    assert as_json["info"]["trace_id"] == trace.info.trace_id


def test_sql_table_csv_and_json(demo_store: tuple[Path, str]) -> None:
    store = str(demo_store[0] / "tracepond.duckdb")
    query = (
        "SELECT name, span_count FROM traces WHERE "
        "run_id = (SELECT run_id FROM runs WHERE name = 'demo conversation') ORDER BY name"
    )
    table = invoke("sql", query, "--store", store)
    assert table.exit_code == 0 and "(4 rows)" in table.output
    rows = list(csv.reader(io.StringIO(invoke("sql", query, "--store", store, "--csv").output)))
    assert rows[0] == ["name", "span_count"] and len(rows) == 5
    lines = invoke("sql", query, "--store", store, "--json").output.splitlines()
    assert json.loads(lines[0])["name"] == "build_index"


def test_sql_that_writes_is_refused_and_the_store_is_unchanged(
    demo_store: tuple[Path, str],
) -> None:
    store = demo_store[0] / "tracepond.duckdb"
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    for statement in (
        "DELETE FROM spans",
        "DROP TABLE traces",
        "INSERT INTO traces (trace_id) VALUES ('x')",
    ):
        result = invoke("sql", statement, "--store", str(store))
        assert result.exit_code == 1
        assert "read-only" in one_line_error(result)
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before


def test_bad_sql_is_one_line(demo_store: tuple[Path, str]) -> None:
    result = invoke("sql", "SELEC nonsense", "--store", str(demo_store[0] / "tracepond.duckdb"))
    assert result.exit_code == 1
    assert "syntax" in one_line_error(result).lower()


def test_unknown_trace_id_is_one_line(demo_store: tuple[Path, str]) -> None:
    result = run_cli("show", "0" * 32, "--store", "tracepond.duckdb", cwd=demo_store[0])
    assert result.returncode == 1
    assert "no trace with id" in one_line_error(result)


def test_missing_store_is_one_line_and_not_created(tmp_path: Path) -> None:
    for args in (["traces"], ["show", "0" * 32], ["sql", "SELECT 1"]):
        result = run_cli(*args, "--store", "nowhere.duckdb", cwd=tmp_path)
        assert result.returncode == 1
        assert "no store at" in one_line_error(result)
    assert list(tmp_path.iterdir()) == []


def test_store_falls_back_to_the_environment(demo_store: tuple[Path, str], tmp_path: Path) -> None:
    store = demo_store[0] / "tracepond.duckdb"
    result = run_cli("traces", cwd=tmp_path, env={"TRACEPOND_STORE": str(store)})
    assert result.returncode == 0 and str(store) in result.stdout


def test_doctor_reports_store_and_providers(demo_store: tuple[Path, str]) -> None:
    result = run_cli("doctor", cwd=demo_store[0])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "schema version:" in out and "dropped spans:   0" in out
    assert "traces:          7" in out  # 4 of the conversation, 3 of its evaluation
    for provider in ("openai", "groq", "anthropic", "bedrock"):
        assert f"  {provider}" in out


def test_every_command_loads(demo_store: tuple[Path, str]) -> None:
    """The lazily loaded subcommands are real commands with the extras installed."""
    context = click.Context(cli.main)
    for name in cli.main.list_commands(context):
        command = cli.main.get_command(context, name)
        assert command is not None
        assert "needs an optional dependency" not in (command.help or ""), name
        assert invoke(name, "--help").exit_code == 0
