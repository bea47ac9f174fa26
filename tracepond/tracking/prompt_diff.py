"""The difference between two prompt versions, line by line (difflib), for the CLI and viewer.

A chat template is compared as its messages, one ``role: content`` block per message, so a
changed word shows as a changed line rather than a changed JSON blob. Model settings are
compared as ``key = value`` lines after the template.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

import orjson

from tracepond.tracking.prompt_types import PromptVersion

Op = Literal["same", "added", "removed"]


def version_lines(prompt: PromptVersion) -> list[str]:
    """What a diff compares: the template's lines, then the model settings."""
    if isinstance(prompt.template, str):
        lines = prompt.template.splitlines()
    else:
        lines = []
        for message in prompt.template:
            content = str(message.get("content", "")).splitlines() or [""]
            lines.append(f"{message.get('role')}: {content[0]}")
            lines.extend(f"    {line}" for line in content[1:])
    for key, value in sorted((prompt.model_config or {}).items()):
        lines.append(f"[model_config] {key} = {orjson.dumps(value).decode()}")
    return lines


def diff_lines(old: PromptVersion, new: PromptVersion) -> list[tuple[Op, str]]:
    """Every line of both versions, marked same, removed (only in old) or added (only in new)."""
    before, after = version_lines(old), version_lines(new)
    out: list[tuple[Op, str]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(("same", line) for line in before[i1:i2])
            continue
        out.extend(("removed", line) for line in before[i1:i2])
        out.extend(("added", line) for line in after[j1:j2])
    return out


def unified_diff(old: PromptVersion, new: PromptVersion) -> str:
    """A unified diff as ``diff -u`` prints it (empty when the versions say the same)."""
    return "\n".join(
        difflib.unified_diff(version_lines(old), version_lines(new), old.uri, new.uri, lineterm="")
    )


def diff_dict(old: PromptVersion, new: PromptVersion) -> dict[str, Any]:
    """The JSON the viewer draws: both versions' facts and the marked lines."""
    return {
        "name": new.name,
        "old": old.to_dict(),
        "new": new.to_dict(),
        "lines": [{"op": op, "text": text} for op, text in diff_lines(old, new)],
    }
