"""docs/api.md names every endpoint the viewer serves and every option of `tracepond ui`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracepond.cli.ui import ui
from tracepond.viewer import api, prompts, quality

DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "route",
    [
        r
        for r in [*prompts.routes(), *api.routes(), *quality.routes()]
        if "{rest:path}" not in r.path
    ],
    ids=lambda r: r.path,
)
def test_every_endpoint_is_documented(route: object) -> None:
    path = re.sub(r"\{(\w+)(:path)?\}", r"{\1}", route.path)  # type: ignore[attr-defined]
    methods = sorted(route.methods - {"HEAD"})  # type: ignore[attr-defined]
    assert any(f"`{method} {path}" in DOC for method in methods), (
        f"{methods} {path} missing from docs/api.md"
    )


@pytest.mark.parametrize("option", [o for p in ui.params for o in p.opts], ids=str)
def test_every_ui_option_is_documented(option: str) -> None:
    assert option in DOC


def test_ingest_endpoint_is_documented() -> None:
    assert "`POST /v1/traces`" in DOC
