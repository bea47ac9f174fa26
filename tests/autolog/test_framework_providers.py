"""Switching the agent-framework integrations (``openai_agents``, ``langchain``) on and off by
name, as the client providers are: a framework that is not installed is skipped quietly, or
refused with its install hint when named. "Not installed" is made real for the import system:
``sys.modules[name] = None`` is how Python marks a package that must not be imported.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest

import tracepond
from tracepond.autolog import PROVIDERS, patched
from tracepond.errors import ProviderNotInstalledError

FRAMEWORKS = {"openai_agents": ("agents", "agents"), "langchain": ("langchain_core", "langchain")}
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_named_but_not_installed_raises_with_the_install_hint(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    package, extra = FRAMEWORKS[name]
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(ProviderNotInstalledError) as raised:
        tracepond.autolog(providers=[name])
    assert f'pip install "tracepond[{extra}]"' in str(raised.value)
    assert patched() == {}


@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_not_named_and_not_installed_is_skipped_quietly(
    name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tracepond")
    monkeypatch.setitem(sys.modules, FRAMEWORKS[name][0], None)
    enabled = tracepond.autolog()
    assert name not in enabled and "openai" in enabled
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_each_framework_is_patched_by_its_name_alone() -> None:
    for name in FRAMEWORKS:
        assert name in PROVIDERS
        assert tracepond.autolog(providers=[name]) == [name]
        tracepond.autolog(disable=True)
        assert patched() == {}


@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_the_install_hint_names_an_extra_that_installs_the_framework(name: str) -> None:
    text = PYPROJECT.read_text()
    package, extra = FRAMEWORKS[name]
    distribution = {"agents": "openai-agents", "langchain_core": "langchain-core"}[package]
    assert re.search(rf'^{extra} = \[[^\]]*"{distribution}>=', text, re.MULTILINE)
    all_extra = re.search(r"^all = \[(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    assert all_extra is not None and extra in all_extra.group(1)  # and `all` pulls it in
