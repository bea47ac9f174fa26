"""The model registry: versions, aliases, tags, descriptions, URIs, searches, concurrency."""

from __future__ import annotations

import multiprocessing
import traceback
from pathlib import Path
from typing import Any

import pytest

import tracepond
from tracepond.errors import NotFoundError, QueryError


def double(x: int) -> int:
    return 2 * x


def triple(x: int) -> int:
    return 3 * x


@pytest.fixture
def two_versions(store: str) -> tuple[tracepond.LoggedModel, tracepond.LoggedModel]:
    with tracepond.start_run(experiment="reg") as run:
        first = tracepond.log_model(double, name="math")
    second = tracepond.log_model(triple, name="math")
    v1 = tracepond.register_model(f"runs:/{run.run_id}/math", "calc", tags={"stage": "dev"})
    v2 = tracepond.register_model(second.model_id, "calc", description="triples")
    assert (v1.version, v2.version) == (1, 2)
    assert (v1.model_id, v1.run_id, v1.tags) == (first.model_id, run.run_id, {"stage": "dev"})
    assert (v2.model_id, v2.description, v2.source) == (second.model_id, "triples", second.model_id)
    return first, second


def test_versions_load_by_number_latest_and_alias(two_versions) -> None:  # type: ignore[no-untyped-def]
    assert tracepond.load_model("models:/calc/1").predict(5) == 10
    assert tracepond.load_model("models:/calc/2").predict(5) == 15
    assert tracepond.load_model("models:/calc/latest").predict(5) == 15
    tracepond.set_model_alias("calc", "champion", 1)
    assert tracepond.load_model("models:/calc@champion").predict(5) == 10
    tracepond.set_model_alias("calc", "champion", 2)  # an alias moves
    assert tracepond.load_model("models:/calc@champion").predict(5) == 15
    assert tracepond.get_model_version_by_alias("calc", "champion").version == 2
    assert tracepond.get_registered_model("calc").aliases == {"champion": 2}
    assert tracepond.get_model_version("calc", 2).aliases == ["champion"]
    assert tracepond.get_model_version("calc", 2).model_uri == "models:/calc/2"
    tracepond.delete_model_alias("calc", "champion")
    assert tracepond.get_registered_model("calc").aliases == {}


def test_a_model_uri_by_registered_name_needs_a_version(two_versions) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFoundError, match=r"names a registered model: add a version or alias"):
        tracepond.load_model("models:/calc")


def test_unknown_versions_and_aliases_are_clear_errors_and_change_nothing(
    two_versions, snapshot
) -> None:  # type: ignore[no-untyped-def]
    tracepond.set_model_alias("calc", "champion", 1)
    before = snapshot()
    with pytest.raises(NotFoundError, match=r"model 'calc' has no version 7; it has versions 1, 2"):
        tracepond.load_model("models:/calc/7")
    with pytest.raises(NotFoundError, match=r"has no version 'two' \(versions are numbers\)"):
        tracepond.get_model_version("calc", "two")
    with pytest.raises(
        NotFoundError, match=r"model 'calc' has no alias 'prod'; its aliases are champion"
    ):
        tracepond.load_model("models:/calc@prod")
    with pytest.raises(NotFoundError, match=r"no registered model named 'nope'"):
        tracepond.load_model("models:/nope/1")
    with pytest.raises(NotFoundError, match=r"has no version 9"):
        tracepond.set_model_alias("calc", "challenger", 9)
    with pytest.raises(NotFoundError, match=r"has no alias 'prod'"):
        tracepond.delete_model_alias("calc", "prod")
    with pytest.raises(tracepond.RunError, match=r"an alias is a word"):
        tracepond.set_model_alias("calc", "latest", 1)
    with pytest.raises(tracepond.RunError, match=r"an alias is a word"):
        tracepond.set_model_alias("calc", "v 1", 1)
    with pytest.raises(NotFoundError, match=r"no logged model with id 'm-unknown'"):
        tracepond.register_model("m-unknown", "calc")
    with pytest.raises(NotFoundError, match=r"logged no model named 'x'"):
        tracepond.register_model("runs:/abc/x", "calc")
    with pytest.raises(tracepond.RunError, match=r"registered model name"):
        tracepond.register_model("m-unknown", "a@b")
    assert snapshot() == before


def test_version_tags_and_descriptions(two_versions) -> None:  # type: ignore[no-untyped-def]
    tracepond.set_model_version_tag("calc", 2, "stage", "prod")
    tracepond.set_model_version_tag("calc", 2, "stage", "canary")
    assert tracepond.get_model_version("calc", 2).tags == {"stage": "canary"}
    tracepond.delete_model_version_tag("calc", 2, "stage")
    assert tracepond.get_model_version("calc", 2).tags == {}
    with pytest.raises(NotFoundError, match=r"has no tag 'stage'"):
        tracepond.delete_model_version_tag("calc", 2, "stage")
    assert tracepond.update_model_version("calc", 1, description="doubles").description == "doubles"
    assert (
        tracepond.update_registered_model("calc", description="arithmetic").description
        == "arithmetic"
    )
    assert tracepond.get_registered_model("calc").latest_version == 2


def test_search_registered_models_and_versions(two_versions) -> None:  # type: ignore[no-untyped-def]
    tracepond.register_model(two_versions[0].model_id, "other-calc")
    assert [m.name for m in tracepond.search_registered_models()] == ["calc", "other-calc"]
    assert [m.name for m in tracepond.search_registered_models(filter="name LIKE 'other%'")] == [
        "other-calc"
    ]
    found = tracepond.search_model_versions(filter="name = 'calc'")
    assert [(v.name, v.version) for v in found] == [("calc", 2), ("calc", 1)]
    assert [v.version for v in tracepond.search_model_versions(filter="tags.stage = 'dev'")] == [1]
    by_model = tracepond.search_model_versions(filter=f"model_id = '{two_versions[0].model_id}'")
    assert sorted((v.name, v.version) for v in by_model) == [("calc", 1), ("other-calc", 1)]
    assert [
        v.version for v in tracepond.search_model_versions(filter="name = 'calc' AND version >= 2")
    ] == [2]
    ordered = tracepond.search_model_versions(order_by=["version ASC", "name DESC"])
    assert [(v.name, v.version) for v in ordered] == [("other-calc", 1), ("calc", 1), ("calc", 2)]
    with pytest.raises(QueryError, match=r"unknown field 'colour'"):
        tracepond.search_model_versions(filter="colour = 'red'")
    with pytest.raises(QueryError, match=r"unknown field 'version'"):
        tracepond.search_registered_models(filter="version = 1")


def _register_many(
    store: str,
    model_id: str,
    count: int,
    start: Any,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    try:
        start.wait(timeout=120)  # every process registers at the same moment
        versions = [
            tracepond.register_model(model_id, "shared", store=store).version for _ in range(count)
        ]
        out.put(("ok", versions))
    except BaseException:
        out.put(("error", traceback.format_exc()))
        raise


@pytest.mark.slow
def test_processes_registering_at_once_get_distinct_consecutive_versions(store: str) -> None:
    model_id = tracepond.log_model(double, name="m").model_id
    tracepond.flush()
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    processes, each = 4, 5
    start = context.Barrier(processes)
    workers = [
        context.Process(target=_register_many, args=(store, model_id, each, start, out))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=280) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    failures = [detail for outcome, detail in results if outcome != "ok"]
    assert not failures, failures[0]
    assert [worker.exitcode for worker in workers] == [0] * processes
    every = sorted(v for _, versions in results for v in versions)
    assert every == list(range(1, processes * each + 1))
    for _, versions in results:
        assert versions == sorted(versions)  # each process saw its own versions increase
    stored = [v.version for v in tracepond.search_model_versions(filter="name = 'shared'")]
    assert sorted(stored) == every


def test_the_registry_tables_in_sql(two_versions, store: str) -> None:  # type: ignore[no-untyped-def]
    tracepond.set_model_alias("calc", "champion", 2)
    result = tracepond.sql(
        "SELECT v.version, a.alias FROM model_versions v LEFT JOIN model_aliases a "
        "USING (name, version) WHERE v.name = 'calc' ORDER BY v.version",
        store=store,
    ).fetchall()
    assert result == [(1, None), (2, "champion")]
    assert Path(store).exists()
