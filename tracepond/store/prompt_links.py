"""Which prompt versions a batch of spans loaded: the rows the writer adds to ``trace_prompts``.

``tracepond.load_prompt`` inside a trace records ``tracepond.prompts`` (a sequence of
"name/version" strings) on the current span. The writer turns them into ``trace_prompts`` rows in
the same transaction as the spans, so the link lands with the trace, from this process, another
one, or an OTLP sender; a link already stored is not written twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tracepond.conventions import attributes as attr
from tracepond.store.rows import S, SpanRecord

LINK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("version", "BIGINT"),
)
_MARKER = f'"{attr.PROMPTS}"'
_ATTRIBUTES = S["attributes"]

# Runs after the batch's new spans are in `tp_new`: the links of spans that were new, once
# per (trace, name, version), the first loading span of the batch kept.
INSERT_LINKS = """
INSERT INTO trace_prompts (trace_id, name, version, span_id)
SELECT l.trace_id, l.name, l.version, min(l.span_id)
FROM tp_prompts l SEMI JOIN tp_new n ON n.trace_id = l.trace_id AND n.span_id = l.span_id
WHERE NOT EXISTS (
    SELECT 1 FROM trace_prompts p
    WHERE p.trace_id = l.trace_id AND p.name = l.name AND p.version = l.version
)
GROUP BY l.trace_id, l.name, l.version
"""


def link_rows(records: Sequence[SpanRecord]) -> list[tuple[Any, ...]]:
    """(trace_id, span_id, name, version) for each prompt version a span of the batch loaded.

    Most spans load no prompt: a substring test on the attributes' JSON text skips them
    without parsing it."""
    rows: list[tuple[Any, ...]] = []
    for record in records:
        text = record.row[_ATTRIBUTES]
        if not text or _MARKER not in text:
            continue
        loaded = orjson.loads(text).get(attr.PROMPTS)
        for entry in loaded if isinstance(loaded, list) else [loaded]:
            name, _, version = str(entry).rpartition("/")
            if name and version.isdigit():
                rows.append((record.row[0], record.row[1], name, int(version)))
    return rows
