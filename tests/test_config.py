"""Settings: arguments over environment over defaults; bad values rejected, nothing changed."""

from __future__ import annotations

import ast
import itertools
import os
from pathlib import Path

import pytest

import tracepond
from tracepond import config
from tracepond.config import Settings, get_settings
from tracepond.errors import ConfigError
from tracepond.tracing import provider


def test_defaults_from_a_clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACEPOND_STORE")
    settings = get_settings()
    assert settings.store == os.path.abspath("tracepond.duckdb")
    assert settings.otlp_endpoint is None and not settings.otlp_enabled
    assert settings.otlp_protocol == "http/protobuf"
    assert settings.capture_content is True
    assert settings.export_content is False
    assert settings.max_value_bytes == 65536
    assert settings.sample_rate == 1.0
    assert settings.batch_size <= settings.queue_size
    assert settings.redact is None
    assert settings.metrics is False
    assert settings.use_global_provider is False


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {
        "TRACEPOND_STORE": str(tmp_path / "env.duckdb"),
        "TRACEPOND_CAPTURE_CONTENT": "false",
        "TRACEPOND_MAX_VALUE_BYTES": "4096",
        "TRACEPOND_SAMPLE_RATE": "0.25",
        "TRACEPOND_QUEUE_SIZE": "500",
        "TRACEPOND_BATCH_SIZE": "50",
        "TRACEPOND_FLUSH_INTERVAL": "0.5",
        "TRACEPOND_METRICS": "yes",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc,x-team=a",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
        "OTEL_SERVICE_NAME": "support-bot",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    assert settings.store == str(tmp_path / "env.duckdb")
    assert settings.capture_content is False
    assert settings.max_value_bytes == 4096
    assert settings.sample_rate == 0.25
    assert (settings.queue_size, settings.batch_size) == (500, 50)
    assert settings.flush_interval_s == 0.5
    assert settings.metrics is True
    assert settings.otlp_traces_url == "http://collector:4318/v1/traces"
    assert dict(settings.otlp_headers) == {"authorization": "Bearer abc", "x-team": "a"}
    assert settings.export_content is True
    assert settings.service_name == "support-bot"


def test_traces_endpoint_and_protocol_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:9999/custom")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    settings = get_settings()
    assert settings.otlp_traces_url == "http://other:9999/custom"  # used as given
    assert settings.otlp_protocol == "grpc"  # the traces-specific variable wins


def test_grpc_takes_the_base_url_as_is() -> None:
    settings = config.build_settings(otlp_endpoint="http://c:4317", otlp_protocol="grpc")
    assert settings.otlp_traces_url == "http://c:4317"


def test_store_none_disables_the_local_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEPOND_STORE", "none")
    assert get_settings().store is None
    config.reset_settings()
    monkeypatch.setenv("TRACEPOND_STORE", "")
    assert get_settings().store is None


def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRACEPOND_SAMPLE_RATE", "0.1")
    monkeypatch.setenv("TRACEPOND_CAPTURE_CONTENT", "false")
    settings = tracepond.configure(store=None, sample_rate=0.9)
    assert settings.sample_rate == 0.9
    assert settings.capture_content is False  # not given: the environment's value stays
    assert get_settings() is settings


def test_configure_keeps_options_not_given() -> None:
    tracepond.configure(store=None, capture_content=False, max_value_bytes=1024)
    settings = tracepond.configure(sample_rate=0.5)
    assert (settings.capture_content, settings.max_value_bytes) == (False, 1024)
    assert settings.store is None


def test_relative_store_path_is_resolved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = config.build_settings(store="rel.duckdb")
    assert settings.store == str(tmp_path / "rel.duckdb")
    assert config.build_settings(store=Path("p.duckdb")).store == str(tmp_path / "p.duckdb")


def test_unknown_option_names_it_and_suggests() -> None:
    before = tracepond.configure(store=None)
    with pytest.raises(ConfigError, match=r"unknown option 'stroe'.*did you mean 'store'"):
        tracepond.configure(stroe="x.duckdb")
    with pytest.raises(ConfigError, match="unknown option 'colour'"):
        tracepond.configure(colour="blue")
    assert get_settings() is before


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("sample_rate", 1.5, "sample_rate=1.5: expected a number from 0 to 1"),
        ("sample_rate", "half", "sample_rate='half'"),
        ("sample_rate", float("nan"), "sample_rate=nan"),
        ("max_value_bytes", 10, "max_value_bytes=10: expected an integer >= 256"),
        ("max_value_bytes", True, "max_value_bytes=True"),
        ("queue_size", 0, "queue_size=0: expected an integer >= 1"),
        ("batch_size", 1.5, "batch_size=1.5"),
        ("flush_interval_s", 0, "flush_interval_s=0"),
        ("capture_content", "yes", "capture_content: expected True or False"),
        ("otlp_endpoint", "localhost:4318", "otlp_endpoint='localhost:4318': expected an http"),
        ("otlp_protocol", "http/json", "otlp_protocol='http/json': expected one of"),
        ("otlp_headers", {"a": 1}, "otlp_headers: expected a dict of str to str"),
        ("otlp_headers", "novalue", "otlp_headers: 'novalue' is not key=value"),
        ("redact", "scrub", "redact: expected a callable"),
        ("service_name", "", "service_name=''"),
        ("store", 42, "store: expected a file path or None"),
    ],
)
def test_bad_argument_names_it_and_changes_nothing(
    option: str, value: object, message: str, tmp_path: Path
) -> None:
    before = tracepond.configure(store=None, sample_rate=0.5)
    with pytest.raises(ConfigError) as raised:
        tracepond.configure(**{option: value})
    assert message in str(raised.value)
    assert get_settings() is before


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TRACEPOND_SAMPLE_RATE", "lots", "TRACEPOND_SAMPLE_RATE='lots': expected a number"),
        ("TRACEPOND_SAMPLE_RATE", "2", "TRACEPOND_SAMPLE_RATE=2.0: expected a number from 0 to 1"),
        ("TRACEPOND_MAX_VALUE_BYTES", "64k", "TRACEPOND_MAX_VALUE_BYTES='64k': expected an int"),
        ("TRACEPOND_MAX_VALUE_BYTES", "12", "TRACEPOND_MAX_VALUE_BYTES=12: expected an integer"),
        ("TRACEPOND_QUEUE_SIZE", "-1", "TRACEPOND_QUEUE_SIZE=-1"),
        ("TRACEPOND_BATCH_SIZE", "x", "TRACEPOND_BATCH_SIZE='x'"),
        ("TRACEPOND_FLUSH_INTERVAL", "soon", "TRACEPOND_FLUSH_INTERVAL='soon'"),
        (
            "TRACEPOND_CAPTURE_CONTENT",
            "maybe",
            "TRACEPOND_CAPTURE_CONTENT='maybe': expected a bool",
        ),
        ("TRACEPOND_METRICS", "2", "TRACEPOND_METRICS='2'"),
        ("TRACEPOND_USE_GLOBAL_PROVIDER", "sure", "TRACEPOND_USE_GLOBAL_PROVIDER='sure'"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL='http/json'"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector", "OTEL_EXPORTER_OTLP_ENDPOINT='collector'"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "a", "OTEL_EXPORTER_OTLP_HEADERS: 'a' is not key=value"),
        (
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            "sometimes",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT='sometimes'",
        ),
        ("OTEL_METRIC_EXPORT_INTERVAL", "soon", "OTEL_METRIC_EXPORT_INTERVAL='soon'"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "0", "OTEL_METRIC_EXPORT_INTERVAL"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "http/json",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL='http/json'",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "collector",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT='collector'",
        ),
    ],
)
def test_bad_environment_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        tracepond.configure(store=None)
    assert message in str(raised.value)
    # Nothing was installed: the next read raises the same clear error, no half settings.
    with pytest.raises(ConfigError):
        get_settings()


def test_store_in_a_missing_directory(tmp_path: Path) -> None:
    before = tracepond.configure(store=None)
    missing = tmp_path / "nope" / "t.duckdb"
    with pytest.raises(ConfigError, match="does not exist") as raised:
        tracepond.configure(store=str(missing))
    assert "store=" in str(raised.value) and str(tmp_path / "nope") in str(raised.value)
    assert get_settings() is before
    assert not missing.parent.exists()


def test_store_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        tracepond.configure(store=str(tmp_path))


def test_missing_directory_in_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRACEPOND_STORE", str(tmp_path / "gone" / "x.duckdb"))
    with pytest.raises(ConfigError, match="TRACEPOND_STORE="):
        get_settings()


def test_batch_larger_than_queue_is_rejected() -> None:
    with pytest.raises(ConfigError, match="batch_size=100 is larger than queue_size=10"):
        tracepond.configure(store=None, queue_size=10, batch_size=100)


def test_use_global_provider_needs_an_sdk_provider() -> None:
    # The test process's global provider is OpenTelemetry's default proxy, not an SDK provider.
    before = tracepond.configure(store=None)
    with pytest.raises(ConfigError, match="use_global_provider=True"):
        tracepond.configure(use_global_provider=True)
    assert get_settings() is before
    assert provider.get_tracer() is not None  # tracing still works with the old settings


def test_headers_never_printed() -> None:
    settings = config.build_settings(store=None, otlp_headers={"authorization": "Bearer s3cr3t"})
    assert "s3cr3t" not in repr(settings)
    assert "authorization" in repr(settings)


def test_settings_are_frozen() -> None:
    settings = config.build_settings(store=None)
    with pytest.raises(AttributeError):
        settings.store = "x"  # type: ignore[misc]
    assert isinstance(settings, Settings)


def test_every_tracepond_variable_is_a_documented_constant() -> None:
    """Each TRACEPOND_* name is a module constant followed by a docstring naming it."""
    tree = ast.parse(Path(config.__file__).read_text())
    documented: dict[str, str] = {}
    body = tree.body
    for statement, following in itertools.pairwise(body):
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id.startswith("TRACEPOND_")
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
        ):
            documented[statement.targets[0].id] = str(following.value.value)
    assert set(config.TRACEPOND_VARIABLES) <= set(documented)
    for name in config.TRACEPOND_VARIABLES:
        assert getattr(config, name) == name
        assert f"envvar:: {name}" in documented[name] and "Default" in documented[name]
    assert len(set(config.TRACEPOND_VARIABLES)) == len(config.TRACEPOND_VARIABLES)
    assert all(getattr(config, name) == name for name in config.OTEL_VARIABLES)
