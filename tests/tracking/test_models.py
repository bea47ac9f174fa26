"""Logged models: set_active_model, log_model (by value and from code), load_model, bad files."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

import tracepond
from tests.tracking.conftest import rows
from tracepond.errors import NotFoundError


def shout(text: str) -> str:
    return text.upper() + "!"


class Greeter:
    def __init__(self) -> None:
        self.greeting = "hello"

    def predict(self, name: str, times: int = 1) -> list[str]:
        return [f"{self.greeting} {name}"] * times


MODEL_SOURCE = textwrap.dedent(
    """
    from pydantic import BaseModel


    class Question(BaseModel):
        text: str
        max_words: int = 5


    class Echo:
        def predict(self, question: Question) -> str:
            return " ".join(question.text.split()[: question.max_words])
    """
)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "echo_model.py"
    path.write_text(MODEL_SOURCE)
    return path


def test_a_function_logged_by_value_loads_ready_to_call(store: str) -> None:
    info = tracepond.log_model(shout, name="shouter")
    assert info.model_uri == f"models:/{info.model_id}"
    assert info.source_kind == "pickle"
    assert info.signature == {
        "inputs": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
        "output": {"type": "string"},
    }
    assert any(line.startswith("cloudpickle==") for line in info.requirements)
    model = tracepond.load_model(info.model_uri)
    assert model.predict("hi") == "HI!"
    assert model("again") == "AGAIN!"
    assert tracepond.load_model(info.model_id).predict("bare id") == "BARE ID!"
    folder = Path(info.artifact_location or "")
    assert folder.parent.parent == Path(f"{store}.artifacts")
    assert {p.name for p in folder.iterdir()} == {
        "model.json",
        "python_model.pkl",
        "requirements.txt",
    }


def test_a_class_with_predict_is_instantiated_and_saved(store: str) -> None:
    info = tracepond.log_model(Greeter, name="greeter")
    model = tracepond.load_model(info.model_uri)
    assert model.predict("ana", times=2) == ["hello ana", "hello ana"]
    assert info.signature is not None
    assert info.signature["inputs"]["required"] == ["name"]


def test_a_model_from_code_converts_dicts_into_its_pydantic_input(
    store: str, model_file: Path
) -> None:
    info = tracepond.log_model(str(model_file), name="echo")
    assert info.source_kind == "code"
    assert any(line.startswith("pydantic==") for line in info.requirements)
    model = tracepond.load_model(info.model_uri)
    assert model.predict({"text": "one two three", "max_words": 2}) == "one two"
    with pytest.raises(
        tracepond.ModelInputError, match=r"question\.max_words: Input should be a valid integer"
    ):
        model.predict({"text": "x", "max_words": "many"})
    # The saved copy is what loads: changing the original file changes nothing.
    model_file.write_text("raise RuntimeError('edited')\n")
    assert tracepond.load_model(info.model_uri).predict({"text": "still works"}) == "still works"


def test_a_code_file_needs_one_clear_entry(store: str, tmp_path: Path, snapshot) -> None:  # type: ignore[no-untyped-def]
    two = tmp_path / "two.py"
    two.write_text("class A:\n    def predict(self, x): return x\n\nclass B(A):\n    pass\n")
    before = snapshot()
    with pytest.raises(tracepond.RunError, match="2 classes with predict; name one with entry="):
        tracepond.log_model(two, name="two")
    with pytest.raises(tracepond.RunError, match="defines no 'C'"):
        tracepond.log_model(two, name="two", entry="C")
    with pytest.raises(tracepond.RunError, match=r"path to a .py file"):
        tracepond.log_model(tmp_path / "missing.py", name="two")
    assert snapshot() == before
    assert not Path(f"{store}.artifacts").exists()
    info = tracepond.log_model(two, name="two", entry="B")
    assert tracepond.load_model(info.model_uri).predict(7) == 7


def test_code_version_is_the_git_commit_of_the_model_file(
    store: str, tmp_path: Path, model_file: Path
) -> None:
    outside = tracepond.log_model(model_file, name="echo")
    assert outside.code_version is None
    repo = tmp_path / "repo"
    repo.mkdir()
    inside = repo / "echo_model.py"
    inside.write_text(MODEL_SOURCE)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "model"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    assert tracepond.log_model(inside, name="echo").code_version == commit.stdout.strip()


def test_explicit_requirements_are_kept_as_given(store: str) -> None:
    info = tracepond.log_model(shout, name="s", requirements=["openai>=1.40"])
    assert info.requirements == ["openai>=1.40"]
    assert (Path(info.artifact_location or "") / "requirements.txt").read_text() == "openai>=1.40\n"


def test_a_model_logged_in_a_run_is_named_by_a_runs_uri(store: str) -> None:
    with tracepond.start_run(experiment="e") as run:
        info = tracepond.log_model(shout, name="agent")
    assert (info.run_id, info.experiment_id) == (run.run_id, run.experiment_id)
    assert tracepond.load_model(f"runs:/{run.run_id}/agent").model_id == info.model_id
    with pytest.raises(NotFoundError, match=f"run {run.run_id} logged no model named 'other'"):
        tracepond.load_model(f"runs:/{run.run_id}/other")


def test_loaded_model_calls_are_traced_and_linked_to_the_model(store: str) -> None:
    info = tracepond.log_model(Greeter, name="greeter")
    model = tracepond.load_model(info.model_uri)
    model.predict("bo")
    found = rows(store, "SELECT name, model_id, status FROM traces")
    assert found == [("greeter", info.model_id, "OK")]
    spans = rows(store, "SELECT span_type, inputs, outputs, model_id FROM spans")
    assert spans[0][0] == "CHAIN" and spans[0][3] == info.model_id
    assert '"bo"' in spans[0][1] and "hello bo" in spans[0][2]


async def test_an_async_model_is_awaited_inside_its_span(store: str) -> None:
    async def answer(question: str) -> str:
        with tracepond.start_span("inner"):
            return question[::-1]

    info = tracepond.log_model(answer, name="async-bot")
    model = tracepond.load_model(info.model_uri)
    assert await model.predict("abc") == "cba"
    assert rows(store, "SELECT name, model_id FROM spans ORDER BY start_time") == [
        ("async-bot", info.model_id),
        ("inner", info.model_id),
    ]


def test_set_active_model_links_every_later_trace(store: str) -> None:
    @tracepond.trace
    def handle(x: int) -> int:
        return x + 1

    handle(0)
    first = tracepond.set_active_model(name="support-bot", params={"prompt": "v1"})
    handle(1)
    assert (
        tracepond.set_active_model(name="support-bot", params={"prompt": "v1"}).model_id
        == first.model_id
    )
    second = tracepond.set_active_model(name="support-bot", params={"prompt": "v2"})
    assert second.model_id != first.model_id
    handle(2)
    assert tracepond.set_active_model(name="support-bot").model_id == second.model_id  # the latest
    linked = rows(store, "SELECT inputs, model_id FROM traces ORDER BY start_time")
    assert [row[1] for row in linked] == [None, first.model_id, second.model_id]
    assert tracepond.get_logged_model(first.model_id).params == {"prompt": "v1"}


def test_set_active_model_inside_a_run_belongs_to_the_run(store: str) -> None:
    with tracepond.start_run(experiment="e") as run:
        made = tracepond.set_active_model(name="in-run")
    assert made.run_id == run.run_id
    with pytest.raises(tracepond.ModelLoadError, match="made by set_active_model"):
        tracepond.load_model(made.model_uri)


def test_unknown_model_ids_and_uris(store: str) -> None:
    tracepond.log_model(shout, name="known")
    with pytest.raises(NotFoundError, match="no logged model with id 'm-nope'"):
        tracepond.load_model("models:/m-nope")
    with pytest.raises(NotFoundError, match="cannot read model URI"):
        tracepond.load_model("s3://bucket/model")
    with pytest.raises(NotFoundError, match="no logged model with id"):
        tracepond.set_active_model(model_id="m-missing")


def _saved_files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "python_model.pkl").write_bytes(b"not a pickle"), "cannot be unpickled"),
        (lambda f: (f / "python_model.pkl").unlink(), "is missing .*python_model.pkl"),
        (lambda f: (f / "model.json").write_text("{broken"), "corrupt .*model.json"),
        (lambda f: (f / "model.json").write_text('{"format": 1}'), "no valid source_kind"),
        (lambda f: (f / "model.json").unlink(), "is missing .*model.json"),
    ],
)
def test_a_corrupt_saved_model_is_a_clear_error_and_nothing_is_rewritten(
    store: str,
    snapshot,
    damage,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    info = tracepond.log_model(shout, name="fragile")
    folder = Path(info.artifact_location or "")
    damage(folder)
    files, before = _saved_files(folder), snapshot()
    with pytest.raises(tracepond.ModelLoadError, match=message):
        tracepond.load_model(info.model_uri)
    assert _saved_files(folder) == files
    assert snapshot() == before


def test_a_missing_model_folder_is_a_clear_error(store: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    import shutil

    info = tracepond.log_model(shout, name="gone")
    shutil.rmtree(info.artifact_location or "")
    before = snapshot()
    with pytest.raises(
        tracepond.ModelLoadError, match=f"saved files of model {info.model_id} are missing"
    ):
        tracepond.load_model(info.model_uri)
    assert snapshot() == before
    assert not Path(info.artifact_location or "").exists()


def test_a_broken_code_file_is_a_clear_error(store: str, model_file: Path) -> None:
    info = tracepond.log_model(model_file, name="echo")
    saved = Path(info.artifact_location or "") / "code" / "echo_model.py"
    saved.write_text("import this_module_does_not_exist\n")
    with pytest.raises(tracepond.ModelLoadError, match=r"importing .* failed: ModuleNotFoundError"):
        tracepond.load_model(info.model_uri)
    assert saved.read_text() == "import this_module_does_not_exist\n"


def test_something_that_cannot_predict_is_refused(store: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    before = snapshot()
    with pytest.raises(TypeError, match="a function or an object with a predict method"):
        tracepond.log_model(42, name="number")
    with pytest.raises(tracepond.RunError, match="model name"):
        tracepond.log_model(shout, name="a/b")
    assert snapshot() == before


def test_a_model_logged_by_value_in_another_process_loads_here(store: str) -> None:
    import os
    import sys

    script = textwrap.dedent(
        """
        import tracepond
        from pydantic import BaseModel

        class Order(BaseModel):
            item: str
            quantity: int

        @tracepond.trace(span_type="TOOL")
        def price(order: Order) -> float:
            return 2.5 * order.quantity

        def quote(order: Order) -> str:
            return f"{order.quantity} x {order.item}: {price(order)}"

        print(tracepond.log_model(quote, name="quoter").model_id)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TRACEPOND_STORE": store},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    model = tracepond.load_model(f"models:/{done.stdout.strip()}")
    assert model.predict({"item": "tea", "quantity": 4}) == "4 x tea: 10.0"
    with pytest.raises(
        tracepond.ModelInputError, match=r"order\.quantity: Input should be a valid integer"
    ):
        model.predict({"item": "tea", "quantity": "four"})
    spans = rows(store, "SELECT name, span_type, model_id FROM spans ORDER BY start_time")
    assert spans == [("quoter", "CHAIN", model.model_id), ("price", "TOOL", model.model_id)]


class HoldsALock:
    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()

    def predict(self, x: int) -> int:
        return x


def test_a_model_that_cannot_be_pickled_leaves_nothing_behind(
    store: str, snapshot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    before = snapshot()
    with pytest.raises(
        tracepond.RunError,
        match=r"cannot be saved by value \(TypeError: cannot pickle '_thread.lock'",
    ):
        tracepond.log_model(HoldsALock, name="locked")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('at import')\n")
    with pytest.raises(
        tracepond.RunError, match=r"importing .*broken.py failed: RuntimeError: at import"
    ):
        tracepond.log_model(broken, name="broken")
    assert snapshot() == before
    assert not Path(f"{store}.artifacts").exists()
