"""`tracepond prompts`, `tracepond prompts show NAME`, `tracepond prompts diff NAME V1 V2`."""

from __future__ import annotations

import pytest

import tracepond
from tests.cli.test_runs_cli import invoke


@pytest.fixture
def filled(store: str) -> str:
    tracepond.register_prompt("qa", "Answer {{q}}.\nBe brief.", commit_message="first")
    tracepond.register_prompt(
        "qa", "Answer {{q}}.\nBe kind.", commit_message="kinder", model_config={"temperature": 0.3}
    )
    tracepond.register_prompt("chat", [{"role": "system", "content": "Hi {{name}}"}])
    tracepond.set_prompt_alias("qa", "production", 2)
    for version in (1, 2, 2):
        with tracepond.start_span("answer"):
            tracepond.load_prompt("qa", version=version)
    tracepond.flush()
    return store


def test_prompts_lists_every_prompt(filled: str) -> None:
    code, out = invoke("prompts", "--store", filled)
    assert code == 0, out
    qa = next(line for line in out.splitlines() if "│ qa" in line)
    assert [cell.strip() for cell in qa.split("│")[1:-1]][:5] == ["qa", "2", "2", "production", "3"]
    assert "chat" in out and "(2 rows)" in out


def test_prompts_show_gives_the_template_and_each_versions_traces(filled: str) -> None:
    code, out = invoke("prompts", "show", "qa", "--store", filled)
    assert code == 0, out
    assert out.startswith("prompts:/qa/2  (text; variables: q)\nmodel_config: temperature=0.3\n")
    assert "Answer {{q}}.\nBe kind.\n" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│")}
    assert "kinder" in rows["2"] and "production" in rows["2"] and "│ 2 " in rows["2"]
    assert "first" in rows["1"]
    code, old = invoke("prompts", "show", "qa", "-v", "1", "--store", filled)
    assert code == 0 and "prompts:/qa/1" in old and "Be brief." in old
    code, chat = invoke("prompts", "show", "chat", "--store", filled)
    assert code == 0 and "[system] Hi {{name}}" in chat


def test_prompts_diff(filled: str) -> None:
    code, out = invoke("prompts", "diff", "qa", "1", "2", "--store", filled)
    assert code == 0, out
    assert out.splitlines() == [
        "--- prompts:/qa/1",
        "+++ prompts:/qa/2",
        "@@ -1,2 +1,3 @@",
        " Answer {{q}}.",
        "-Be brief.",
        "+Be kind.",
        "+[model_config] temperature = 0.3",
    ]
    code, same = invoke("prompts", "diff", "qa", "2", "2", "--store", filled)
    assert code == 0 and "have the same template and settings" in same


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("prompts", "show", "nope"), "no prompt named 'nope'"),
        (("prompts", "show", "qa", "-v", "9"), "has no version 9; it has versions 1, 2"),
        (("prompts", "diff", "qa", "1", "5"), "has no version 5"),
        (("prompts", "diff", "nope", "1", "2"), "no prompt named 'nope'"),
        (("prompts", "show", "a/b"), "a prompt name is"),
    ],
)
def test_errors_are_one_line_and_a_non_zero_exit(
    filled: str, args: tuple[str, ...], message: str
) -> None:
    code, out = invoke(*args, "--store", filled)
    assert code != 0
    assert message in out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out
