"""Prompts as versioned artifacts in the store, linked to the traces that load them.

    tracepond.register_prompt("support-system", "You help customers of {{company}}.",
                              commit_message="first draft", model_config={"temperature": 0.2})
    tracepond.set_prompt_alias("support-system", "production", 1)
    p = tracepond.load_prompt("prompts:/support-system@production")   # or ".../2", or name + version=
    p.format(company="Acme")

Versions are numbered 1, 2, ... per name and never change; an alias points at one version of its
name and can be moved or deleted. Each registration is one write transaction that reads the
highest version and inserts the next, so registrations from several processes (serialized by the
store's file lock) get consecutive versions and none is lost. Every refusal (a bad name, template,
alias or version) is raised before anything is written.

``load_prompt`` inside a trace records the version on the current span (``tracepond.prompt.name``,
``tracepond.prompt.version`` and the list ``tracepond.prompts``); the span writer links it to the
trace in ``trace_prompts`` (see ``tracepond.store.prompt_links``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import duckdb
import orjson

from tracepond.conventions import attributes as attr
from tracepond.errors import NotFoundError, PromptError, log_internal_error
from tracepond.tracing.serialize import is_secret_key
from tracepond.tracing.spans import get_current_span
from tracepond.tracking import db as runs_db
from tracepond.tracking.prompt_types import PromptVersion, check_template

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,127}$")
_VERSION_URI = re.compile(r"^prompts:/(?P<name>[^/@]+)/(?P<version>[^/@]+)$")
_ALIAS_URI = re.compile(r"^prompts:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_NAME_URI = re.compile(r"^prompts:/(?P<name>[^/@]+)$")


# --- checks made before the store is touched ---------------------------------------------------


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise PromptError(
            "a prompt name is 1 to 256 letters, digits, '_', '.' or '-', starting with a letter "
            f"or digit; got {name!r}"
        )
    return name


def _check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == "latest":
        raise PromptError(
            "an alias is a word of letters, digits, '_' and '-' starting with a letter, "
            f"and not 'latest'; got {alias!r}"
        )
    return alias


def _check_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise PromptError(f"a prompt version is a positive integer, got {version!r}")
    text = str(version).strip()
    if not text.isdigit() or int(text) < 1:
        raise PromptError(f"a prompt version is a positive integer, got {version!r}")
    return int(text)


def _check_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise PromptError(f"tags must be a dict of strings, got {type(tags).__name__}")
    cleaned = {str(k): str(v) for k, v in tags.items()}
    if any(not key.strip() for key in cleaned):
        raise PromptError("a tag key must be a non-empty string")
    return cleaned


def _check_model_config(config: Mapping[str, Any] | None) -> str | None:
    """The settings as JSON text; credentials are refused (no secret reaches the store)."""
    if config is None:
        return None
    if not isinstance(config, Mapping) or any(not isinstance(k, str) for k in config):
        raise PromptError("model_config must be a dict with string keys, e.g. {'temperature': 0.2}")
    secret = [key for key in config if is_secret_key(key)]
    if secret:
        raise PromptError(
            f"model_config must not hold credentials ({', '.join(secret)}); "
            "pass them to the provider client instead"
        )
    try:
        return orjson.dumps(dict(config)).decode()
    except TypeError as exc:
        raise PromptError(
            f"model_config must be JSON values (str, number, list, dict): {exc}"
        ) from None


# --- reading rows --------------------------------------------------------------------------------


def _utc(moment: dt.datetime) -> dt.datetime:
    """A stored (naive UTC) time as an aware one, as trace times are."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def version_from_row(row: Mapping[str, Any]) -> PromptVersion:
    chat = row["template_type"] == "chat"
    config = row.get("model_config")
    return PromptVersion(
        name=row["name"],
        version=int(row["version"]),
        template=orjson.loads(row["template"]) if chat else row["template"],
        commit_message=row["commit_message"],
        aliases=sorted(row["aliases"] or []),
        tags=orjson.loads(row["tags"]) if row["tags"] else {},
        create_time=_utc(row["create_time"]),
        template_type="chat" if chat else "text",
        variables=list(row["variables"] or []),
        model_config=orjson.loads(config) if config else None,
    )


def _versions(conn: duckdb.DuckDBPyConnection, name: str) -> list[int]:
    rows = conn.execute(
        "SELECT version FROM prompt_versions WHERE name = ? ORDER BY version", [name]
    ).fetchall()
    return [int(row[0]) for row in rows]


def _require_version(conn: duckdb.DuckDBPyConnection, name: str, version: int | None) -> int:
    """The version asked for (the latest when None); NotFoundError naming what exists."""
    versions = _versions(conn, name)
    if not versions:
        raise NotFoundError(f"no prompt named {name!r}")
    if version is None:
        return versions[-1]
    if version not in versions:
        raise NotFoundError(
            f"prompt {name!r} has no version {version}; it has versions "
            f"{', '.join(map(str, versions))}"
        )
    return version


def _version_by_alias(conn: duckdb.DuckDBPyConnection, name: str, alias: str) -> int:
    if alias == "latest":
        return _require_version(conn, name, None)
    _require_version(conn, name, None)  # the prompt must exist
    row = conn.execute(
        "SELECT version FROM prompt_versions WHERE name = ? AND list_contains(aliases, ?)",
        [name, alias],
    ).fetchone()
    if row is None:
        known = conn.execute(
            "SELECT DISTINCT unnest(aliases) AS a FROM prompt_versions WHERE name = ? ORDER BY a",
            [name],
        ).fetchall()
        raise NotFoundError(
            f"prompt {name!r} has no alias {alias!r}"
            + (f"; its aliases are {', '.join(r[0] for r in known)}" if known else "; it has none")
        )
    return int(row[0])


def _load(conn: duckdb.DuckDBPyConnection, name: str, version: int) -> PromptVersion:
    rows = runs_db.fetch_dicts(
        conn, "SELECT * FROM prompt_versions WHERE name = ? AND version = ?", [name, version]
    )
    return version_from_row(rows[0])


# Named, not *: DuckDB answers this point lookup several times faster (measured, bench_prompts).
_COLUMNS = (
    "name, version, template, template_type, variables, commit_message, aliases, tags, "
    "model_config, create_time"
)


def _find(
    conn: duckdb.DuckDBPyConnection, name: str, version: int | None, alias: str | None
) -> PromptVersion:
    """One query when the version exists; the slower checks only to say what is missing."""
    params: list[Any] = [name]
    if alias is not None and alias != "latest":  # an alias is on one version at most
        where, params = "AND list_contains(aliases, ?)", [name, alias]
    elif version is not None:
        where, params = "AND version = ?", [name, version]
    else:
        where = "ORDER BY version DESC LIMIT 1"
    rows = runs_db.fetch_dicts(
        conn, f"SELECT {_COLUMNS} FROM prompt_versions WHERE name = ? {where}", params
    )
    if rows:
        return version_from_row(rows[0])
    if alias is not None:
        _version_by_alias(conn, name, alias)
    _require_version(conn, name, version)  # raises NotFoundError naming what the prompt has
    raise NotFoundError(f"no version of prompt {name!r} matches")  # pragma: no cover - a race


# --- the public functions -----------------------------------------------------------------------


def register_prompt(
    name: str,
    template: str | list[dict[str, Any]],
    *,
    commit_message: str | None = None,
    tags: Mapping[str, Any] | None = None,
    model_config: Mapping[str, Any] | None = None,
    store: str | None = None,
) -> PromptVersion:
    """Store ``template`` as the next version of prompt ``name`` (1 for a new name).

    ``template`` is a ``{{variable}}`` text or a list of chat messages whose contents are such
    texts. ``model_config`` holds optional settings for a provider call (model, temperature...).
    """
    check_name(name)
    stored, kind, variables = check_template(template)
    text = stored if isinstance(stored, str) else orjson.dumps(stored).decode()
    if commit_message is not None and not isinstance(commit_message, str):
        raise PromptError(f"commit_message must be a string, got {type(commit_message).__name__}")
    tags_json = orjson.dumps(_check_tags(tags)).decode()
    config_json = _check_model_config(model_config)
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> PromptVersion:
        now = runs_db.utcnow()
        conn.execute(
            "INSERT INTO prompts VALUES (?, ?, ?) ON CONFLICT (name) "
            "DO UPDATE SET last_updated_time = excluded.last_updated_time",
            [name, now, now],
        )
        version = runs_db.next_version(conn, "prompt_versions", name)
        conn.execute(
            "INSERT INTO prompt_versions (name, version, template, template_type, variables, "
            "commit_message, tags, model_config, create_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [name, version, text, kind, variables, commit_message, tags_json, config_json, now],
        )
        return _load(conn, name, version)

    return runs_db.write(path, work)


def set_prompt_alias(name: str, alias: str, version: int, *, store: str | None = None) -> None:
    """Point ``alias`` of prompt ``name`` at ``version``, moving it if it pointed elsewhere."""
    check_name(name)
    _check_alias(alias)
    number = _check_version(version)
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        _require_version(conn, name, number)
        _remove_alias(conn, name, alias)
        conn.execute(
            "UPDATE prompt_versions SET aliases = list_append(aliases, ?) "
            "WHERE name = ? AND version = ?",
            [alias, name, number],
        )
        _touch(conn, name)

    runs_db.write(path, work)


def delete_prompt_alias(name: str, alias: str, *, store: str | None = None) -> None:
    """Remove an alias; one the prompt does not have is a NotFoundError."""
    check_name(name)
    if alias == "latest":
        raise PromptError(
            "'latest' is not an alias that can be deleted: it names the newest version"
        )
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        _version_by_alias(conn, name, alias)  # NotFoundError naming the aliases it has
        _remove_alias(conn, name, alias)
        _touch(conn, name)

    runs_db.write(path, work)


def _remove_alias(conn: duckdb.DuckDBPyConnection, name: str, alias: str) -> None:
    """Take ``alias`` off whichever version of ``name`` holds it."""
    conn.execute(
        "UPDATE prompt_versions SET aliases = list_filter(aliases, lambda a: a != ?) "
        "WHERE name = ? AND list_contains(aliases, ?)",
        [alias, name, alias],
    )


def _touch(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    conn.execute(
        "UPDATE prompts SET last_updated_time = ? WHERE name = ?", [runs_db.utcnow(), name]
    )


def parse_prompt_uri(
    uri: str, version: int | str | None = None
) -> tuple[str, int | None, str | None]:
    """(name, version or None, alias or None) of "prompts:/name@alias", "prompts:/name/2",
    "prompts:/name" or a bare name (with ``version=``); None and None mean the latest."""
    if not isinstance(uri, str) or not uri.strip():
        raise PromptError(f"load_prompt needs a prompt name or a prompts:/ URI, got {uri!r}")
    if uri.startswith("prompts:/"):
        if version is not None:
            raise PromptError(f"give the version in the URI or as version=, not both ({uri!r})")
        if match := _ALIAS_URI.match(uri):
            return check_name(match["name"]), None, match["alias"]
        if match := _VERSION_URI.match(uri):
            if match["version"] == "latest":
                return check_name(match["name"]), None, None
            return check_name(match["name"]), _check_version(match["version"]), None
        if match := _NAME_URI.match(uri):
            return check_name(match["name"]), None, None
        raise PromptError(
            f"cannot read prompt URI {uri!r}; use prompts:/<name>/<version>, "
            "prompts:/<name>@<alias> or a name with version="
        )
    return check_name(uri), None if version is None else _check_version(version), None


def load_prompt(
    name_or_uri: str, version: int | str | None = None, *, store: str | None = None
) -> PromptVersion:
    """The prompt version named by a URI or a name (+ ``version=``; the latest without one).

    Inside a trace, the current span records the version and the store links it to the trace.
    """
    name, number, alias = parse_prompt_uri(name_or_uri, version)
    path = runs_db.resolve_store(store)

    found = runs_db.read(path, lambda conn: _find(conn, name, number, alias))
    try:  # instrumentation: a failure here never costs the caller its prompt
        _record_on_span(found)
    except Exception:
        log_internal_error("load_prompt: recording the prompt on the current span")
    return found


def _record_on_span(prompt: PromptVersion) -> None:
    """Name the version on the current span, adding it to those the span already loaded."""
    span = get_current_span()
    if span is None or not span.is_recording:
        return
    entry = f"{prompt.name}/{prompt.version}"
    attributes = getattr(span.otel_span, "attributes", None) or {}
    loaded = list(attributes.get(attr.PROMPTS) or ())
    span.set_attributes(
        {
            attr.PROMPT_NAME: prompt.name,
            attr.PROMPT_VERSION: prompt.version,
            attr.PROMPTS: loaded if entry in loaded else [*loaded, entry],
        }
    )
