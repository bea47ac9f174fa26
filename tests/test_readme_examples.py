"""The README's Python examples run as written, against the stand-in OpenAI server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import tracepond
from tracepond.testing import FakeOpenAIServer

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)\n```", README, re.S)


@pytest.fixture
def openai_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    """The README's `OpenAI()` with no arguments reads these, as in a real app."""
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-readme-example-key")
        yield server
    tracepond.autolog(disable=True)


def test_readme_has_the_examples() -> None:
    assert len(PYTHON_BLOCKS) >= 2


def test_readme_python_examples_run(openai_env: FakeOpenAIServer, configured: object) -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in PYTHON_BLOCKS:
        exec(compile(block, "README.md", "exec"), namespace)
    tracepond.flush()
    traces = tracepond.search_traces(filter="name = 'answer'")
    assert len(traces) >= 2  # the tour's call and the one inside the run
    assert {t.info.session_id for t in traces} == {"s-42"}
    models = tracepond.sql(
        "SELECT DISTINCT model FROM spans WHERE span_type = 'CHAT_MODEL'"
    ).fetchall()
    assert models == [("gpt-4o-mini",)]
    in_run = tracepond.search_traces(run_id=namespace["run"].run_id)  # type: ignore[attr-defined]
    assert [t.info.name for t in in_run] == ["answer"]
    assert any(request.path.endswith("/chat/completions") for request in openai_env.requests)
