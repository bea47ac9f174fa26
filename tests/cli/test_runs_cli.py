"""`tracepond runs`, `tracepond models`, `tracepond models show NAME`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import tracepond
from tracepond.cli import main


def answer(question: str) -> str:
    return question[::-1]


@pytest.fixture
def filled(store: str) -> str:
    with tracepond.start_run(experiment="bot", name="eval-1"):
        tracepond.log_params({"model": "gpt-4o"})
        tracepond.log_metric("accuracy", 0.91)
        info = tracepond.log_model(answer, name="answerer")
    with tracepond.start_run(experiment="other", name="eval-2"):
        tracepond.log_metric("accuracy", 0.5)
    tracepond.register_model(info.model_id, "support")
    tracepond.register_model(info.model_id, "support")
    tracepond.update_registered_model("support", description="the bot")
    tracepond.set_model_alias("support", "champion", 2)
    tracepond.load_model("models:/support@champion").predict("abc")
    tracepond.flush()
    return store


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_runs_lists_runs_with_params_and_metrics(filled: str) -> None:
    code, out = invoke("runs", "--store", filled)
    assert code == 0, out
    assert "eval-1" in out and "eval-2" in out and "model=gpt-4o" in out and "accuracy=0.91" in out
    code, out = invoke("runs", "--store", filled, "--experiment", "bot", "--format", "json")
    assert code == 0, out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["name"] for line in lines] == ["eval-1"]
    assert lines[0]["status"] == "FINISHED"
    code, out = invoke(
        "runs", "--store", filled, "--filter", "metrics.accuracy < 0.6", "--format", "csv"
    )
    assert code == 0 and "eval-2" in out and "eval-1" not in out


def test_models_lists_registered_models(filled: str) -> None:
    code, out = invoke("models", "--store", filled)
    assert code == 0, out
    registered, logged = out.split("Logged models")
    assert "support" in registered and "champion=v2" in registered and "the bot" in registered
    assert "│ 1 " in registered  # one trace: v1 and v2 are the same logged model, counted once
    assert "answerer" in logged and "│ 1 " in logged


def test_models_show_gives_versions_aliases_and_stats(filled: str) -> None:
    code, out = invoke("models", "show", "support", "--store", filled)
    assert code == 0, out
    assert "latest version 2" in out and "champion -> v2" in out
    version_lines = [line for line in out.splitlines() if "│ 2 " in line or "│ 1 " in line]
    assert len(version_lines) == 2
    assert any(
        "champion" in line and "100.0%" not in line and " 1 " in line for line in version_lines
    )
    code, out = invoke("models", "--store", filled, "show", "answerer")
    assert code == 0, out
    assert "logged model(s), not registered" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("models", "show", "nope"), "no registered or logged model named 'nope'"),
        (("runs", "--filter", "metrics.accuracy >"), "invalid filter"),
        (("runs", "--experiment", "missing"), "no experiment named 'missing'"),
    ],
)
def test_errors_are_one_line_and_a_non_zero_exit(
    filled: str, args: tuple[str, ...], message: str
) -> None:
    code, out = invoke(*args, "--store", filled)
    assert code != 0
    assert message in out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out


def test_a_missing_store_is_one_line(tmp_path: Path) -> None:
    code, out = invoke("runs", "--store", str(tmp_path / "none.duckdb"))
    assert code != 0 and "no store at" in out and len(out.strip().splitlines()) == 1
