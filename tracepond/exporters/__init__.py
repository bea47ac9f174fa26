"""Span exporters: ``duckdb`` (the embedded local store), ``otlp`` (any OpenTelemetry collector)."""
