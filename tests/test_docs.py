"""The README documents every setting and every command a user can reach."""

from __future__ import annotations

import re
from pathlib import Path

import click

from tracepond import cli, config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def environment_variables_read_by_the_package() -> set[str]:
    """Every TRACEPOND_* name that appears as a string in the package's source."""
    names: set[str] = set(config.TRACEPOND_VARIABLES)
    for path in (ROOT / "tracepond").rglob("*.py"):
        names.update(re.findall(r"[\"'](TRACEPOND_[A-Z_]+)[\"']", path.read_text(encoding="utf-8")))
    return names


def test_every_tracepond_variable_is_in_the_readme() -> None:
    missing = sorted(
        name for name in environment_variables_read_by_the_package() if name not in README
    )
    assert not missing, f"document these in README.md: {missing}"


def test_every_opentelemetry_variable_read_is_in_the_readme() -> None:
    missing = [name for name in config.OTEL_VARIABLES if name not in README]
    assert not missing, f"document these in README.md: {missing}"


def test_every_cli_command_is_in_the_readme() -> None:
    context = click.Context(cli.main)
    missing = [
        name for name in cli.main.list_commands(context) if f"tracepond {name}" not in README
    ]
    assert not missing, f"document these commands in README.md: {missing}"


def test_readme_commands_match_ci() -> None:
    """The README's test command is the one .ci/run runs."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    block = re.search(r"## Run the tests.*?```bash\n(.*?)\n```", README, re.S)
    assert block is not None
    assert block.group(1).strip() in ci


def test_the_viewer_address_in_the_readme_is_the_default() -> None:
    from tracepond.cli.ui import ui

    port = next(p.default for p in ui.params if p.name == "port")
    mentioned = set(re.findall(r"http://127\.0\.0\.1:(\d+)", README))
    assert mentioned == {str(port)}
