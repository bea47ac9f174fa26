"""Experiments and runs through the public API: lifecycle, logging, artifacts, bad input."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

import tracepond
from tests.tracking.conftest import rows
from tracepond.errors import NotFoundError


def test_a_run_records_params_metrics_and_tags(store: str) -> None:
    with tracepond.start_run(experiment="support-bot", name="eval-3", tags={"team": "ml"}) as run:
        tracepond.log_params({"temperature": 0.2, "model": "gpt-4o-mini"})
        tracepond.log_param("k", 3)
        tracepond.log_metric("accuracy", 0.80, step=0)
        tracepond.log_metric("accuracy", 0.91, step=1)
        tracepond.log_metrics({"latency_s": 1.5, "cost": 0.02}, step=1)
        tracepond.set_tag("stage", "dev")
        tracepond.set_tags({"stage": "prod", "owner": "ana"})
        assert tracepond.active_run() is not None
        assert tracepond.active_run().run_id == run.run_id  # type: ignore[union-attr]

    assert tracepond.active_run() is None
    found = tracepond.get_run(run.run_id)
    assert found.info.name == "eval-3"
    assert found.info.status == "FINISHED"
    assert found.info.end_time is not None and found.info.end_time >= found.info.start_time
    assert found.data.params == {"temperature": "0.2", "model": "gpt-4o-mini", "k": "3"}
    assert found.data.metrics == {"accuracy": 0.91, "latency_s": 1.5, "cost": 0.02}
    assert found.data.tags == {"team": "ml", "stage": "prod", "owner": "ana"}
    experiment = tracepond.get_experiment_by_name("support-bot")
    assert experiment is not None and found.info.experiment_id == experiment.experiment_id
    history = tracepond.get_metric_history(run.run_id, "accuracy")
    assert [(m.step, m.value) for m in history] == [(0, 0.80), (1, 0.91)]


def test_the_sql_tables_hold_the_run(store: str) -> None:
    with tracepond.start_run(experiment="sql", name="r") as run:
        tracepond.log_param("p", "v")
        tracepond.log_metric("m", 2.5, step=4)
    result = tracepond.sql(
        "SELECT r.name, r.status, e.name, p.value, m.value, m.step FROM runs r "
        "JOIN experiments e USING (experiment_id) JOIN params p USING (run_id) "
        "JOIN metrics m USING (run_id)",
        store=store,
    ).fetchall()
    assert result == [("r", "FINISHED", "sql", "v", 2.5, 4)]
    assert run.run_id


def test_a_run_ending_by_exception_is_failed_and_the_error_propagates(store: str) -> None:
    with pytest.raises(ZeroDivisionError), tracepond.start_run(name="boom") as run:
        tracepond.log_metric("before", 1.0)
        _ = 1 / 0
    assert tracepond.get_run(run.run_id).info.status == "FAILED"
    assert tracepond.active_run() is None


def test_nested_runs_record_their_parent(store: str) -> None:
    with tracepond.start_run(experiment="tuning", name="parent") as parent:
        for lr in (0.1, 0.01):
            with tracepond.start_run(name=f"lr={lr}", nested=True) as child:
                tracepond.log_param("lr", lr)
                assert tracepond.active_run().run_id == child.run_id  # type: ignore[union-attr]
        assert tracepond.active_run().run_id == parent.run_id  # type: ignore[union-attr]
    children = tracepond.search_runs(filter=f"parent_run_id = '{parent.run_id}'")
    assert sorted(r.data.params["lr"] for r in children) == ["0.01", "0.1"]
    assert all(r.info.experiment_id == parent.experiment_id for r in children)


def test_starting_a_second_run_without_nested_is_refused(store: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    with tracepond.start_run(name="outer") as outer:
        before = snapshot()
        with pytest.raises(tracepond.RunError, match=r"already active.*nested=True"):
            tracepond.start_run(name="inner")
        assert snapshot() == before
        assert tracepond.active_run().run_id == outer.run_id  # type: ignore[union-attr]


def test_a_plain_call_and_end_run_with_a_status(store: str) -> None:
    run = tracepond.start_run(experiment="plain")
    tracepond.log_metric("x", 1)
    tracepond.end_run(status="KILLED")
    assert tracepond.get_run(run.run_id).info.status == "KILLED"
    assert tracepond.active_run() is None


def test_ending_a_run_twice_is_an_error_and_changes_nothing(store: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    run = tracepond.start_run(name="once")
    tracepond.end_run()
    before = snapshot()
    with pytest.raises(tracepond.RunError, match="no active run to end"):
        tracepond.end_run()
    with pytest.raises(
        tracepond.RunError, match=rf"run {run.run_id} already ended with status FINISHED"
    ):
        tracepond.end_run(status="FAILED", run_id=run.run_id)
    assert snapshot() == before
    assert tracepond.get_run(run.run_id).info.status == "FINISHED"


def test_a_bad_end_status_is_refused(store: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    with tracepond.start_run() as run:
        before = snapshot()
        with pytest.raises(tracepond.RunError, match="'DONE'"):
            tracepond.end_run(status="DONE")
        assert snapshot() == before
    assert tracepond.get_run(run.run_id).info.status == "FINISHED"


def test_ending_inside_the_with_block_is_not_an_error_at_its_exit(store: str) -> None:
    with tracepond.start_run() as run:
        tracepond.end_run(status="KILLED")
    assert tracepond.get_run(run.run_id).info.status == "KILLED"


def test_a_param_logged_again_with_another_value_is_refused(store: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    with tracepond.start_run() as run:
        tracepond.log_param("lr", 0.1)
        tracepond.log_param("lr", 0.1)  # the same value again is fine
        before = snapshot()
        with pytest.raises(tracepond.RunError, match=r"param 'lr' .* is already '0.1'.*'0.2'"):
            tracepond.log_param("lr", 0.2)
        # A batch with one conflicting key records none of its keys.
        with pytest.raises(tracepond.RunError, match="param 'lr'"):
            tracepond.log_params({"batch": 32, "lr": 0.3})
        assert snapshot() == before
    assert tracepond.get_run(run.run_id).data.params == {"lr": "0.1"}


@pytest.mark.parametrize("value", ["0.9", None, True, [1.0], {"v": 1}])
def test_a_metric_that_is_not_a_number_is_refused(store: str, snapshot, value: object) -> None:  # type: ignore[no-untyped-def]
    with tracepond.start_run() as run:
        tracepond.log_metric("ok", 1.0)
        before = snapshot()
        with pytest.raises(
            tracepond.RunError, match=r"metric 'accuracy' must be a number, got "
        ) as caught:
            tracepond.log_metrics({"good": 2.0, "accuracy": value})  # type: ignore[dict-item]
        assert repr(value) in str(caught.value)
        assert snapshot() == before  # not even the good key of the batch
    assert tracepond.get_run(run.run_id).data.metrics == {"ok": 1.0}


def test_nan_and_infinity_are_numbers_and_are_kept(store: str) -> None:
    with tracepond.start_run() as run:
        tracepond.log_metric("loss", float("nan"), step=3)
        tracepond.log_metric("ratio", float("inf"))
    metrics = tracepond.get_run(run.run_id).data.metrics
    assert math.isnan(metrics["loss"]) and metrics["ratio"] == math.inf


def test_metric_timestamps_from_datetime_or_epoch_ms(store: str) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    with tracepond.start_run() as run:
        tracepond.log_metric("a", 1, timestamp=when)
        tracepond.log_metric("b", 1, timestamp=when.timestamp() * 1000)
    a, b = (tracepond.get_metric_history(run.run_id, key)[0] for key in ("a", "b"))
    assert a.timestamp == b.timestamp == dt.datetime(2026, 1, 2, 3, 4, 5)


def test_logging_without_an_active_run_says_so(store: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    before = snapshot()
    with pytest.raises(tracepond.RunError, match="no active run"):
        tracepond.log_metric("x", 1.0)
    assert snapshot() == before


def test_logging_to_an_unknown_run_id_is_not_found(store: str) -> None:
    with pytest.raises(NotFoundError, match="no run with id '0000"):
        tracepond.log_param("x", 1, run_id="0" * 32)


def test_the_same_experiment_name_with_other_settings_is_refused(store: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    first = tracepond.set_experiment("bot", description="the support bot", tags={"team": "ml"})
    again = tracepond.set_experiment("bot", description="the support bot")  # same settings
    assert again.experiment_id == first.experiment_id
    before = snapshot()
    with pytest.raises(
        tracepond.ExperimentConflictError, match=r"'bot' already exists.*description='another'"
    ):
        tracepond.set_experiment("bot", description="another")
    with pytest.raises(tracepond.ExperimentConflictError, match=r"tags="):
        tracepond.set_experiment("bot", tags={"team": "infra"})
    assert snapshot() == before


def test_set_experiment_is_the_default_for_start_run(store: str) -> None:
    experiment = tracepond.set_experiment("chosen")
    with tracepond.start_run() as run:
        pass
    assert run.experiment_id == experiment.experiment_id


def test_log_artifact_copies_beside_the_store_and_never_overwrites(
    store: str, tmp_path: Path, snapshot
) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "report.txt"
    report.write_text("first")
    folder = tmp_path / "plots"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"png")
    with tracepond.start_run() as run:
        copied = tracepond.log_artifact(report)
        tracepond.log_artifact(folder, artifact_path="figures")
        assert copied.read_text() == "first"
        assert Path(f"{store}.artifacts") in copied.parents
        assert (Path(run.info.artifact_uri) / "figures" / "plots" / "a.png").read_bytes() == b"png"
        report.write_text("second")
        before = snapshot()
        with pytest.raises(tracepond.RunError, match="already has an artifact"):
            tracepond.log_artifact(report)
        with pytest.raises(tracepond.RunError, match="no file or folder"):
            tracepond.log_artifact(tmp_path / "missing.txt")
        with pytest.raises(tracepond.RunError, match="leaves the run's artifact folder"):
            tracepond.log_artifact(report, artifact_path="../../elsewhere")
        assert snapshot() == before
    assert copied.read_text() == "first"


def test_spans_inside_a_run_carry_its_ids(store: str) -> None:
    @tracepond.trace
    def answer(question: str) -> str:
        with tracepond.start_span("retrieve", span_type="RETRIEVER"):
            return question.upper()

    with tracepond.start_run(experiment="traced") as run:
        answer("inside")
    answer("outside")
    found = rows(store, "SELECT inputs, run_id, experiment_id FROM traces ORDER BY start_time")
    assert [(r[1], r[2]) for r in found] == [(run.run_id, run.experiment_id), (None, None)]
    spans = rows(store, "SELECT count(*) FROM spans WHERE run_id = ?", [run.run_id])
    assert spans == [(2,)]


def test_link_traces_to_run(store: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    with tracepond.start_span("offline-eval"):
        trace_id = tracepond.get_current_trace_id()
    assert trace_id is not None
    run = tracepond.start_run(experiment="linked")
    tracepond.end_run()
    tracepond.flush()
    before = snapshot()
    with pytest.raises(LookupError, match="no trace with id 'ffff"):
        tracepond.link_traces_to_run([trace_id, "f" * 32], run.run_id)
    with pytest.raises(LookupError, match="no run with id"):
        tracepond.link_traces_to_run([trace_id], "nope")
    assert snapshot() == before
    tracepond.link_traces_to_run([trace_id], run.run_id)
    assert rows(
        store, "SELECT run_id, experiment_id FROM traces WHERE trace_id = ?", [trace_id]
    ) == [(run.run_id, run.experiment_id)]


def test_a_run_left_open_at_exit_is_finished(store: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = "import tracepond\nrun = tracepond.start_run(name='left-open')\nprint(run.run_id)\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TRACEPOND_STORE": store},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    run_id = done.stdout.strip()
    assert tracepond.get_run(run_id).info.status == "FINISHED"
