"""`spans.model` is the model the caller asked for; `spans.response_model` the one that answered."""

from __future__ import annotations

import openai

import tracepond
from tracepond.config import Settings
from tracepond.testing import FakeOpenAIServer


def test_span_model_finds_answers_under_their_dated_names(
    configured: Settings, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    tracepond.autolog(providers=["openai"])
    server.reply_next("fine", model="gpt-4o-mini-2024-07-18")
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    server.reply_next("ok", model="gpt-4o-2024-08-06")
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert tracepond.flush(timeout_s=30)

    found = tracepond.search_traces(filter="span.model = 'gpt-4o-mini'")
    assert len(found) == 1
    (span,) = found[0].spans
    assert (span.model, span.response_model) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    answered = tracepond.search_traces(filter="span.response_model = 'gpt-4o-2024-08-06'")
    assert [t.spans[0].model for t in answered] == ["gpt-4o"]
    rows = tracepond.sql(
        "SELECT model, response_model, cost_usd > 0 FROM spans ORDER BY model"
    ).fetchall()
    assert rows == [
        ("gpt-4o", "gpt-4o-2024-08-06", True),
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18", True),
    ]
