"""The first run as a new user tries it: `tracepond ui` after a plain install, and the mistakes
that must be one-line errors (never a traceback), each leaving what was there as it was."""

from __future__ import annotations

import ast
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from click.testing import CliRunner

import tracepond
from tracepond.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracepond.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def third_party_imports(package: Path) -> set[str]:
    names: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"tracepond"}


def test_the_viewer_needs_only_the_core_dependencies() -> None:
    """`pip install tracepond` then `tracepond ui`: everything the viewer and the OTLP codec
    import is a core dependency, not an extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    # google.protobuf comes with opentelemetry-proto (its dependency), google.rpc with
    # googleapis-common-protos
    distribution = {"google": "opentelemetry-proto", "opentelemetry": "opentelemetry-proto"}
    for part in ("viewer", "otlp"):  # display: IPython only inside Jupyter, which has it
        # grpcio is optional by design: without it `tracepond ui` serves HTTP and says so once
        for name in third_party_imports(ROOT / "tracepond" / part) - {"grpc"}:
            wanted = distribution.get(name, name)
            assert wanted.replace("_", "-") in core, (part, name)
    assert "googleapis-common-protos" in core  # the google.rpc.Status of ingest errors


def test_ui_with_a_store_in_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    done = run_cli("ui", "--store", str(tmp_path / "missing" / "dir" / "x.duckdb"), "--port", "0")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "does not exist" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""  # no "viewer on http://..." before the error
    assert not (tmp_path / "missing").exists()


def test_ui_on_a_port_in_use_is_one_line_and_says_nothing_first(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run_cli("ui", "--store", str(tmp_path / "t.duckdb"), "--port", str(port))
    assert done.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""
    assert not (tmp_path / "t.duckdb").exists()


def test_a_half_truncated_store_is_one_line_everywhere(tmp_path: Path) -> None:
    store = tmp_path / "t.duckdb"
    assert run_cli("demo", "--store", str(store), "--quiet").returncode == 0
    size = store.stat().st_size
    with store.open("r+b") as file:
        file.truncate(size // 2)
    kept = store.read_bytes()
    with pytest.raises(tracepond.errors.StoreError, match="damaged or truncated"):
        tracepond.search_traces(store=str(store))
    for args in (["traces"], ["show", "0" * 32], ["sql", "SELECT * FROM spans"]):
        done = run_cli(*args, "--store", str(store))
        assert done.returncode != 0, args
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert store.read_bytes() == kept  # left as it was, for whoever wants to rescue it


def test_limit_zero_names_the_option_the_user_typed(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["traces", "-n", "0", "--store", str(tmp_path / "t.duckdb")])
    assert result.exit_code == 2
    assert "'--limit' / '-n'" in result.output and "max_results" not in result.output


def test_a_delete_in_the_cli_names_no_python_function(tmp_path: Path) -> None:
    store = tmp_path / "t.duckdb"
    assert run_cli("demo", "--store", str(store), "--quiet").returncode == 0
    done = run_cli("sql", "DELETE FROM spans", "--store", str(store))
    assert done.returncode != 0 and "read-only" in done.stderr
    assert "tracepond.sql()" not in done.stderr
    count = run_cli("sql", "SELECT count(*) AS n FROM spans", "--store", str(store), "--csv")
    assert count.stdout.splitlines()[1] != "0"  # nothing was deleted


def test_doctor_names_the_extra_that_installs_async_bedrock() -> None:
    from tracepond.cli.doctor import _PROVIDER_EXTRAS

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert any("aiobotocore" in dep for dep in extras[_PROVIDER_EXTRAS["bedrock (async)"]])
    assert "aiobotocore" in extras["all"][0]  # and [all] installs it too
