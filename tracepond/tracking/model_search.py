"""Searching the registry: `search_registered_models` and `search_model_versions`.

Both take the filter language of search_runs (see `tracepond.tracking.search_filter`):

    search_registered_models(filter="name LIKE 'support-%'")
    search_model_versions(filter="name = 'support-bot' AND tags.stage = 'prod' AND version >= 2")

Registered model fields: ``name``, ``description``, ``creation_time``, ``last_updated_time``.
Version fields: ``name``, ``version``, ``model_id``, ``run_id``, ``source``, ``description``,
``creation_time``, ``tags.KEY``. (A version by alias: `get_model_version_by_alias`.)
"""

from __future__ import annotations

import duckdb

from tracepond.errors import QueryError
from tracepond.tracking import db as runs_db
from tracepond.tracking.entities import ModelVersion, RegisteredModel
from tracepond.tracking.registry import registered_from_rows, versions_from_rows
from tracepond.tracking.search_filter import Field, compile_filter, compile_order_by

_REGISTERED = {
    "name": Field("r.name", "text"),
    "description": Field("r.description", "text"),
    "creation_time": Field("r.creation_time", "time"),
    "last_updated_time": Field("r.last_updated_time", "time"),
}
_VERSIONS = {
    "name": Field("v.name", "text"),
    "version": Field("v.version", "number"),
    "model_id": Field("v.model_id", "text"),
    "run_id": Field("v.run_id", "text"),
    "source": Field("v.source", "text"),
    "description": Field("v.description", "text"),
    "creation_time": Field("v.creation_time", "time"),
}


def _resolve_registered(prefix: str | None, key: str) -> Field | None:
    return _REGISTERED.get(key) if prefix is None else None


def _resolve_version(prefix: str | None, key: str) -> Field | None:
    if prefix == "tags":
        return Field(
            "(SELECT t.value FROM model_version_tags t WHERE t.name = v.name"
            " AND t.version = v.version AND t.key = ?)",
            "text",
            (key,),
        )
    return _VERSIONS.get(key) if prefix is None else None


def _check_max(max_results: int) -> None:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise QueryError(f"max_results must be a positive integer, got {max_results!r}")


def search_registered_models(
    filter: str | None = None,
    order_by: list[str] | None = None,
    *,
    max_results: int = 1000,
    store: str | None = None,
) -> list[RegisteredModel]:
    """Registered models matching `filter`, by name unless `order_by` says otherwise."""
    _check_max(max_results)
    path = runs_db.resolve_store(store)
    where, params = compile_filter(filter, _resolve_registered)
    order, order_params = compile_order_by(order_by, _resolve_registered, "r.name")
    query = f"SELECT r.* FROM registered_models r WHERE {where} ORDER BY {order} LIMIT ?"

    def work(conn: duckdb.DuckDBPyConnection) -> list[RegisteredModel]:
        rows = runs_db.fetch_dicts(conn, query, [*params, *order_params, max_results])
        return registered_from_rows(conn, rows)

    return runs_db.read(path, work)


def search_model_versions(
    filter: str | None = None,
    order_by: list[str] | None = None,
    *,
    max_results: int = 1000,
    store: str | None = None,
) -> list[ModelVersion]:
    """Model versions matching `filter`, by name then newest version first by default."""
    _check_max(max_results)
    path = runs_db.resolve_store(store)
    where, params = compile_filter(filter, _resolve_version)
    order, order_params = compile_order_by(order_by, _resolve_version, "v.name, v.version DESC")
    query = f"SELECT v.* FROM model_versions v WHERE {where} ORDER BY {order} LIMIT ?"

    def work(conn: duckdb.DuckDBPyConnection) -> list[ModelVersion]:
        rows = runs_db.fetch_dicts(conn, query, [*params, *order_params, max_results])
        return versions_from_rows(conn, rows)

    return runs_db.read(path, work)
