"""search_runs: the filter language over params, latest metrics, tags and run fields."""

from __future__ import annotations

import pytest

import tracepond
from tracepond.errors import NotFoundError, QueryError


@pytest.fixture
def three_runs(store: str) -> dict[str, str]:
    """Three finished runs in two experiments; name -> run_id."""
    ids: dict[str, str] = {}
    plan = [
        ("bot", "a", {"model": "gpt-4o", "temperature": 0.2}, [0.5, 0.95], {"team": "ml"}),
        ("bot", "b", {"model": "o3", "temperature": 0.7}, [0.9, 0.6], {"team": "infra"}),
        ("other", "c", {"model": "gpt-4o", "temperature": 1.5}, [0.8], {"team.name": "x"}),
    ]
    for experiment, name, params, accuracies, tags in plan:
        with tracepond.start_run(experiment=experiment, name=name, tags=tags) as run:
            tracepond.log_params(params)
            for step, value in enumerate(accuracies):
                tracepond.log_metric("accuracy", value, step=step)
        ids[name] = run.run_id
    return ids


def names(runs: list[tracepond.Run]) -> list[str | None]:
    return [run.info.name for run in runs]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("params.model = 'gpt-4o'", ["a", "c"]),
        ("params.model != 'gpt-4o'", ["b"]),
        ("params.temperature > 0.5", ["b", "c"]),  # text params compared as numbers
        ("params.temperature = 0.2", ["a"]),
        ("metrics.accuracy > 0.7", ["a", "c"]),  # the latest value: b ended at 0.6
        ("metrics.accuracy <= 0.6", ["b"]),
        ("tags.team = 'ml'", ["a"]),
        ("tags.`team.name` = 'x'", ["c"]),
        ("status = 'FINISHED' AND name LIKE 'a%'", ["a"]),
        ("attributes.status = 'FINISHED'", ["a", "b", "c"]),
        ("name IN ('a', 'c')", ["a", "c"]),
        ("params.model = 'o3' OR (tags.team = 'ml' AND metrics.accuracy >= 0.95)", ["a", "b"]),
        ("experiment = 'other'", ["c"]),
        ("experiment_name != 'other'", ["a", "b"]),
        ("parent_run_id IS NULL AND end_time IS NOT NULL", ["a", "b", "c"]),
        ("params.missing = 'x'", []),
        ("name ILIKE 'B'", ["b"]),
        ("start_time > '2000-01-01' AND duration_ms >= 0", ["a", "b", "c"]),
    ],
)
def test_filters(three_runs: dict[str, str], filter_: str, expected: list[str]) -> None:
    found = tracepond.search_runs(filter=filter_, order_by=["name"])
    assert names(found) == expected


def test_order_by_a_metric_and_the_default_newest_first(three_runs: dict[str, str]) -> None:
    assert names(tracepond.search_runs(order_by=["metrics.accuracy DESC"])) == ["a", "c", "b"]
    assert names(tracepond.search_runs(order_by=["params.model", "name DESC"])) == ["c", "a", "b"]
    assert names(tracepond.search_runs()) == ["c", "b", "a"]
    assert names(tracepond.search_runs(max_results=1)) == ["c"]


def test_scoped_to_experiments(three_runs: dict[str, str]) -> None:
    assert names(tracepond.search_runs(experiment="bot", order_by=["name"])) == ["a", "b"]
    both = tracepond.search_runs(experiment=["bot", "other"], order_by=["name"])
    assert names(both) == ["a", "b", "c"]
    with pytest.raises(NotFoundError, match="no experiment named 'nope'"):
        tracepond.search_runs(experiment="nope")


def test_found_runs_carry_their_data(three_runs: dict[str, str]) -> None:
    (run,) = tracepond.search_runs(filter="name = 'b'")
    assert run.info.run_id == three_runs["b"]
    assert run.data.params == {"model": "o3", "temperature": "0.7"}
    assert run.data.metrics == {"accuracy": 0.6}
    assert run.data.tags == {"team": "infra"}


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        ("status = ", "expected a value .*, found the end of the filter at position 9"),
        ("status == 'x'", "expected a value .*, found '=' at position 8"),
        ("colour = 'red'", "unknown field 'colour' at position 0"),
        ("params.x = 'a' AND", "expected a field name .*, found the end of the filter"),
        ("(status = 'x'", "expected '\\)'"),
        ("status = 'x' garbage", "found 'garbage' at position 13"),
        ("status = 'x'; DROP TABLE runs", "unexpected character ';' at position 12"),
        ("metrics.accuracy > 'high'", "expected a number for a numeric field, found \"'high'\""),
        ("name LIKE 3", "expected a quoted string, found '3' at position 10"),
        ("start_time > 5", "expected a quoted time for 'start_time', found '5'"),
    ],
)
def test_a_malformed_filter_names_the_offending_token(
    three_runs: dict[str, str],
    snapshot,
    filter_: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    before = snapshot()
    with pytest.raises(QueryError, match=message):
        tracepond.search_runs(filter=filter_)
    assert snapshot() == before


def test_values_are_parameters_never_sql(three_runs: dict[str, str]) -> None:
    assert tracepond.search_runs(filter="name = 'a'' OR ''1''=''1'") == []
    assert len(tracepond.search_runs()) == 3


def test_bad_order_by_and_max_results(three_runs: dict[str, str]) -> None:
    with pytest.raises(QueryError, match="unknown field 'size'"):
        tracepond.search_runs(order_by=["size DESC"])
    with pytest.raises(QueryError, match="expected 'FIELD \\[ASC\\|DESC\\]'"):
        tracepond.search_runs(order_by=["name; DROP"])
    with pytest.raises(QueryError, match="max_results"):
        tracepond.search_runs(max_results=0)
