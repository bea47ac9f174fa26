"""A store with two prompts and traces that loaded them, made through the public API."""

from __future__ import annotations

from dataclasses import dataclass, field

import tracepond
from tracepond.conventions import attributes as attr

HOSTILE = '<img src=x onerror="window.__xss=4">{{name}}'


@dataclass
class PromptStore:
    path: str
    traces: dict[int, list[str]] = field(default_factory=dict)  # support version -> trace ids


def build_prompt_store(path: str) -> PromptStore:
    tracepond.configure(store=path)
    made = PromptStore(path)
    tracepond.register_prompt(
        "support", "You help customers of {{company}}.\nBe brief.", commit_message="first"
    )
    tracepond.register_prompt(
        "support",
        "You help customers of {{company}}.\nBe kind and brief.",
        commit_message="kinder",
        model_config={"model": "gpt-4o-mini", "temperature": 0.2},
    )
    tracepond.register_prompt("hostile", HOSTILE, commit_message="<b>bold</b>")
    tracepond.set_prompt_alias("support", "production", 2)
    for version, cost in ((1, 0.01), (2, 0.02), (2, 0.04)):
        with (
            tracepond.start_span("answer", span_type="CHAIN") as root,
            tracepond.start_span("chat", span_type="CHAT_MODEL") as chat,
        ):
            tracepond.load_prompt("support", version=version)
            chat.set_attribute(attr.COST_USD, cost)
        made.traces.setdefault(version, []).append(root.trace_id)
    tracepond.flush()
    return made
