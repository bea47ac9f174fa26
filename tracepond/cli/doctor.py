"""`tracepond doctor`: the store's schema, counts and dropped spans, and the providers found."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import click

from tracepond.cli.common import clear_errors, resolve_store, store_option


@click.command()
@store_option
@clear_errors
def doctor(store: str | None) -> None:
    """Check the store and the environment: schema, counts, dropped spans, providers."""
    path = resolve_store(store, must_exist=False)
    print_doctor(diagnose(path))


_PROVIDER_PACKAGES = {
    "openai": "openai",
    "groq": "groq",
    "anthropic": "anthropic",
    "bedrock": "boto3",
    "bedrock (async)": "aiobotocore",
    "gemini": "google.genai",
    "openai_agents": "agents",
    "langchain": "langchain_core",
}
# The extra that installs each provider's client library (pyproject.toml).
_PROVIDER_EXTRAS = {
    "openai": "openai",
    "groq": "groq",
    "bedrock": "bedrock",
    "bedrock (async)": "aiobotocore",
}


def diagnose(store: str) -> dict[str, Any]:
    """What `tracepond doctor` reports, as plain data."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    report: dict[str, Any] = {"store": os.path.abspath(store) if "://" not in store else store}
    report["store_exists"] = "://" in store or os.path.exists(store)
    if report["store_exists"]:
        report.update(_store_facts(store))
    providers: dict[str, str | None] = {}
    for name, package in _PROVIDER_PACKAGES.items():
        try:
            found = importlib.util.find_spec(package)
        except ModuleNotFoundError:  # a dotted name whose parent package is missing
            found = None
        if found is None:
            providers[name] = None
            continue
        # The distribution named like the import ("google.genai": google-genai), else the one
        # that installs it ("agents": openai-agents).
        names = [package.replace(".", "-"), *packages_distributions().get(package, [])]
        providers[name] = "installed"
        for distribution in names:
            try:
                providers[name] = version(distribution)
                break
            except PackageNotFoundError:
                continue
    report["providers"] = providers
    return report


def _store_facts(store: str) -> dict[str, Any]:
    from tracepond.store.query import sql

    facts: dict[str, Any] = {}
    facts["schema_version"] = sql(
        "SELECT max(version) FROM schema_version", store=store
    ).fetchall()[0][0]
    facts["traces"] = sql("SELECT count(*) FROM traces", store=store).fetchall()[0][0]
    facts["spans"] = sql("SELECT count(*) FROM spans", store=store).fetchall()[0][0]
    from tracepond.store.query import dropped_span_counts

    facts["dropped_spans"] = dropped_span_counts(store=store)
    return facts


def print_doctor(report: dict[str, Any]) -> None:
    click.echo(f"store:           {report['store']}")
    if not report["store_exists"]:
        click.echo("                 (does not exist yet; the first traced call creates it)")
    else:
        click.echo(f"schema version:  {report['schema_version']}")
        click.echo(f"traces:          {report['traces']:,}")
        click.echo(f"spans:           {report['spans']:,}")
        dropped = report["dropped_spans"]
        total = sum(dropped.values()) if dropped else 0
        detail = (
            ", ".join(f"{k}: {v:,}" for k, v in sorted(dropped.items()) if v) if dropped else ""
        )
        click.echo(f"dropped spans:   {total:,}" + (f"  ({detail})" if detail else ""))
    click.echo("providers autolog can patch:")
    for name, found in report["providers"].items():
        extra = _PROVIDER_EXTRAS.get(name, name)
        status = f"yes ({found})" if found else f'no (pip install "tracepond[{extra}]")'
        click.echo(f"  {name:<16} {status}")
