"""Spans and traces: the tracer provider, @trace and start_span, the current span and trace,
safe serialization, truncation and redaction of inputs and outputs, suppression."""
