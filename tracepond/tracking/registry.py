"""The model registry: named models with numbered versions, aliases, tags and descriptions.

    version = tracepond.register_model(info.model_id, name="support-bot")   # version 1, 2, ...
    tracepond.set_model_alias("support-bot", "champion", version.version)
    tracepond.load_model("models:/support-bot@champion")

Each registration is one write transaction that reads the highest version and inserts the next,
so registrations from several processes (serialized by DuckDB's file lock, retried by
`tracepond.store.connection`) get distinct, consecutive versions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import duckdb

from tracepond.errors import NotFoundError, RunError
from tracepond.tracking import db as runs_db
from tracepond.tracking.entities import LoggedModel, ModelVersion, RegisteredModel
from tracepond.tracking.logged_models import find_model, model_from_row

_RUNS_URI = re.compile(r"^runs:/(?P<run_id>[^/]+)/(?P<path>.+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[^/@]+)$")
_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_ID_URI = re.compile(r"^models:/(?P<model_id>[^/@]+)$")
_ALIAS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


# --- resolving what a URI names -----------------------------------------------------------------


def _model_of_run(conn: duckdb.DuckDBPyConnection, run_id: str, path: str) -> LoggedModel:
    rows = runs_db.fetch_dicts(
        conn,
        "SELECT * FROM models WHERE run_id = ? AND name = ? ORDER BY creation_time DESC LIMIT 1",
        [run_id, path],
    )
    if not rows:
        raise NotFoundError(f"run {run_id} logged no model named {path!r}")
    return model_from_row(rows[0])


def _require_model(conn: duckdb.DuckDBPyConnection, model_id: str) -> LoggedModel:
    found = find_model(conn, model_id)
    if found is None:
        raise NotFoundError(f"no logged model with id {model_id!r}")
    return found


def _versions_of(conn: duckdb.DuckDBPyConnection, name: str) -> list[int]:
    rows = conn.execute(
        "SELECT version FROM model_versions WHERE name = ? ORDER BY version", [name]
    ).fetchall()
    return [row[0] for row in rows]


def _require_version(conn: duckdb.DuckDBPyConnection, name: str, version: Any) -> int:
    versions = _versions_of(conn, name)
    if not versions:
        raise NotFoundError(f"no registered model named {name!r}")
    if str(version) == "latest":
        return versions[-1]
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise NotFoundError(
            f"model {name!r} has no version {version!r} (versions are numbers)"
        ) from None
    if number not in versions:
        raise NotFoundError(
            f"model {name!r} has no version {number}; it has versions {', '.join(map(str, versions))}"
        )
    return number


def _version_by_alias(conn: duckdb.DuckDBPyConnection, name: str, alias: str) -> int:
    _require_version(conn, name, "latest")  # the registered model must exist
    row = conn.execute(
        "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", [name, alias]
    ).fetchone()
    if row is None:
        known = [
            r[0]
            for r in conn.execute(
                "SELECT alias FROM model_aliases WHERE name = ? ORDER BY alias", [name]
            ).fetchall()
        ]
        raise NotFoundError(
            f"model {name!r} has no alias {alias!r}"
            + (f"; its aliases are {', '.join(known)}" if known else "; it has no aliases")
        )
    return int(row[0])


def _model_of_version(conn: duckdb.DuckDBPyConnection, name: str, version: int) -> LoggedModel:
    row = conn.execute(
        "SELECT model_id FROM model_versions WHERE name = ? AND version = ?", [name, version]
    ).fetchone()
    assert row is not None
    return _require_model(conn, row[0])


def _resolve(conn: duckdb.DuckDBPyConnection, uri: str) -> LoggedModel:
    if match := _RUNS_URI.match(uri):
        return _model_of_run(conn, match["run_id"], match["path"])
    if match := _ALIAS_URI.match(uri):
        version = _version_by_alias(conn, match["name"], match["alias"])
        return _model_of_version(conn, match["name"], version)
    if match := _VERSION_URI.match(uri):
        return _model_of_version(
            conn, match["name"], _require_version(conn, match["name"], match["version"])
        )
    if match := _ID_URI.match(uri):
        found = find_model(conn, match["model_id"])
        if found is not None:
            return found
        if _versions_of(conn, match["model_id"]):
            raise NotFoundError(
                f"{uri!r} names a registered model: add a version or alias, "
                f"e.g. models:/{match['model_id']}/latest or models:/{match['model_id']}@champion"
            )
        raise NotFoundError(f"no logged model with id {match['model_id']!r}")
    if "://" not in uri and ":/" not in uri:
        return _require_model(conn, uri)
    raise NotFoundError(
        f"cannot read model URI {uri!r}; use models:/<model_id>, models:/<name>/<version>, "
        "models:/<name>@<alias> or runs:/<run_id>/<name>"
    )


def resolve_model_uri(uri: str, *, store: str | None = None) -> LoggedModel:
    """The logged model a URI or id names; NotFoundError naming what is missing."""
    path = runs_db.resolve_store(store)
    return runs_db.read(path, lambda conn: _resolve(conn, uri))


# --- registering --------------------------------------------------------------------------------


def _check_registered_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or "/" in name or "@" in name:
        raise RunError(
            f"a registered model name is a non-empty string without '/' or '@', got {name!r}"
        )
    return name


def _clean_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    cleaned = {str(k): str(v) for k, v in (tags or {}).items()}
    if any(not k for k in cleaned):
        raise RunError("a tag key must be a non-empty string")
    return cleaned


def register_model(
    model: str,
    name: str,
    *,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    store: str | None = None,
) -> ModelVersion:
    """Register a logged model (its id, "models:/<model_id>" or "runs:/<run_id>/<name>") as the
    next version of `name`, creating the registered model on first use."""
    path = runs_db.resolve_store(store)
    _check_registered_name(name)
    cleaned_tags = _clean_tags(tags)

    def work(conn: duckdb.DuckDBPyConnection) -> ModelVersion:
        source = _resolve(conn, model)
        now = runs_db.utcnow()
        conn.execute(
            "INSERT INTO registered_models VALUES (?, NULL, ?, ?) ON CONFLICT (name) "
            "DO UPDATE SET last_updated_time = excluded.last_updated_time",
            [name, now, now],
        )
        version = runs_db.next_version(conn, "model_versions", name)
        conn.execute(
            "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [name, version, source.model_id, model, source.run_id, description, now],
        )
        if cleaned_tags:
            conn.executemany(
                "INSERT INTO model_version_tags VALUES (?, ?, ?, ?)",
                [(name, version, k, v) for k, v in cleaned_tags.items()],
            )
        return _load_version(conn, name, version)

    return runs_db.write(path, work)


def _touch(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    conn.execute(
        "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
        [runs_db.utcnow(), name],
    )


def set_model_alias(name: str, alias: str, version: int, *, store: str | None = None) -> None:
    """Point `alias` of model `name` at `version` (moving it if it pointed elsewhere)."""
    path = runs_db.resolve_store(store)
    if not isinstance(alias, str) or not _ALIAS_NAME.match(alias) or alias == "latest":
        raise RunError(
            f"an alias is a word of letters, digits, '_' and '-' starting with a letter, "
            f"and not 'latest'; got {alias!r}"
        )

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        number = _require_version(conn, name, version)
        conn.execute("INSERT OR REPLACE INTO model_aliases VALUES (?, ?, ?)", [name, alias, number])
        _touch(conn, name)

    runs_db.write(path, work)


def delete_model_alias(name: str, alias: str, *, store: str | None = None) -> None:
    """Remove an alias; an alias the model does not have is a NotFoundError."""
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        _version_by_alias(conn, name, alias)
        conn.execute("DELETE FROM model_aliases WHERE name = ? AND alias = ?", [name, alias])
        _touch(conn, name)

    runs_db.write(path, work)


def set_model_version_tag(
    name: str, version: int, key: str, value: Any, *, store: str | None = None
) -> None:
    path = runs_db.resolve_store(store)
    tags = _clean_tags({key: value})

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        number = _require_version(conn, name, version)
        conn.executemany(
            "INSERT OR REPLACE INTO model_version_tags VALUES (?, ?, ?, ?)",
            [(name, number, k, v) for k, v in tags.items()],
        )

    runs_db.write(path, work)


def delete_model_version_tag(
    name: str, version: int, key: str, *, store: str | None = None
) -> None:
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        number = _require_version(conn, name, version)
        row = conn.execute(
            "SELECT 1 FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
            [name, number, key],
        ).fetchone()
        if row is None:
            raise NotFoundError(f"version {number} of model {name!r} has no tag {key!r}")
        conn.execute(
            "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
            [name, number, key],
        )

    runs_db.write(path, work)


def update_model_version(
    name: str, version: int, *, description: str, store: str | None = None
) -> ModelVersion:
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> ModelVersion:
        number = _require_version(conn, name, version)
        conn.execute(
            "UPDATE model_versions SET description = ? WHERE name = ? AND version = ?",
            [description, name, number],
        )
        _touch(conn, name)
        return _load_version(conn, name, number)

    return runs_db.write(path, work)


def update_registered_model(
    name: str, *, description: str, store: str | None = None
) -> RegisteredModel:
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> None:
        _require_version(conn, name, "latest")
        conn.execute(
            "UPDATE registered_models SET description = ? WHERE name = ?", [description, name]
        )
        _touch(conn, name)

    runs_db.write(path, work)
    return get_registered_model(name, store=path)


# --- reading ------------------------------------------------------------------------------------


def versions_from_rows(
    conn: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]
) -> list[ModelVersion]:
    """ModelVersions with their tags and aliases, in the order of `rows`."""
    names = sorted({row["name"] for row in rows})
    tags: dict[tuple[str, int], dict[str, str]] = {}
    aliases: dict[tuple[str, int], list[str]] = {}
    if names:
        for name, version, key, value in conn.execute(
            "SELECT name, version, key, value FROM model_version_tags WHERE name IN (SELECT unnest(?))",
            [names],
        ).fetchall():
            tags.setdefault((name, version), {})[key] = value
        for name, alias, version in conn.execute(
            "SELECT name, alias, version FROM model_aliases WHERE name IN (SELECT unnest(?)) "
            "ORDER BY alias",
            [names],
        ).fetchall():
            aliases.setdefault((name, version), []).append(alias)
    return [
        ModelVersion(
            name=row["name"],
            version=row["version"],
            model_id=row["model_id"],
            source=row["source"],
            run_id=row["run_id"],
            description=row["description"],
            creation_time=row["creation_time"],
            tags=tags.get((row["name"], row["version"]), {}),
            aliases=aliases.get((row["name"], row["version"]), []),
        )
        for row in rows
    ]


def get_model_version(name: str, version: int | str, *, store: str | None = None) -> ModelVersion:
    """One version of a registered model ("latest" allowed); NotFoundError naming the versions."""
    path = runs_db.resolve_store(store)

    return runs_db.read(
        path, lambda conn: _load_version(conn, name, _require_version(conn, name, version))
    )


def _load_version(conn: duckdb.DuckDBPyConnection, name: str, version: int) -> ModelVersion:
    rows = runs_db.fetch_dicts(
        conn, "SELECT * FROM model_versions WHERE name = ? AND version = ?", [name, version]
    )
    return versions_from_rows(conn, rows)[0]


def get_model_version_by_alias(name: str, alias: str, *, store: str | None = None) -> ModelVersion:
    path = runs_db.resolve_store(store)
    return runs_db.read(
        path, lambda conn: _load_version(conn, name, _version_by_alias(conn, name, alias))
    )


def registered_from_rows(
    conn: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]
) -> list[RegisteredModel]:
    names = [row["name"] for row in rows]
    latest: dict[str, int] = {}
    aliases: dict[str, dict[str, int]] = {}
    if names:
        for name, version in conn.execute(
            "SELECT name, max(version) FROM model_versions WHERE name IN (SELECT unnest(?)) GROUP BY name",
            [names],
        ).fetchall():
            latest[name] = version
        for name, alias, version in conn.execute(
            "SELECT name, alias, version FROM model_aliases WHERE name IN (SELECT unnest(?)) ORDER BY alias",
            [names],
        ).fetchall():
            aliases.setdefault(name, {})[alias] = version
    return [
        RegisteredModel(
            name=row["name"],
            description=row["description"],
            creation_time=row["creation_time"],
            last_updated_time=row["last_updated_time"],
            latest_version=latest.get(row["name"]),
            aliases=aliases.get(row["name"], {}),
        )
        for row in rows
    ]


def get_registered_model(name: str, *, store: str | None = None) -> RegisteredModel:
    path = runs_db.resolve_store(store)

    def work(conn: duckdb.DuckDBPyConnection) -> RegisteredModel:
        rows = runs_db.fetch_dicts(conn, "SELECT * FROM registered_models WHERE name = ?", [name])
        if not rows:
            raise NotFoundError(f"no registered model named {name!r}")
        return registered_from_rows(conn, rows)[0]

    return runs_db.read(path, work)
