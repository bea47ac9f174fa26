"""The schema of prompts: migration version 5.

DESIGN.md's SQL contract: ``prompts`` (one row per prompt name), ``prompt_versions`` (name,
version, template, commit_message, aliases, tags, create_time; plus the template's kind, its
variables and optional model settings) and ``trace_prompts`` (trace_id, name, version; plus the
span that loaded it).

A version's content never changes once written; only its ``aliases`` list moves (an alias
points at one version of a name at a time). ``template`` holds the text of a text template and
the JSON of a chat template's messages (``template_type`` says which).

``trace_prompts`` is written by the span writer from the ``tracepond.prompts`` attribute of the
spans that land (see ``tracepond.store.writer``), so a prompt loaded inside a trace is linked in
the same transaction as the span that loaded it, whichever process or OTLP sender wrote it.
"""

from __future__ import annotations

VERSION = 5
DESCRIPTION = "prompts, prompt versions and the traces that used them"

STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS prompts (
        name VARCHAR PRIMARY KEY,
        creation_time TIMESTAMP NOT NULL,
        last_updated_time TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS prompt_versions (
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        template VARCHAR NOT NULL,          -- the text, or the chat messages as JSON
        template_type VARCHAR NOT NULL,     -- 'text' | 'chat'
        variables VARCHAR[] NOT NULL,       -- the {{variable}} names, in order of appearance
        commit_message VARCHAR,
        aliases VARCHAR[] NOT NULL DEFAULT [],
        tags JSON NOT NULL DEFAULT '{}',
        model_config JSON,                  -- optional settings for a provider call
        create_time TIMESTAMP NOT NULL,
        PRIMARY KEY (name, version)
    )""",
    """CREATE TABLE IF NOT EXISTS trace_prompts (
        trace_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        span_id VARCHAR                     -- the first span of the trace that loaded it
    )""",
)
