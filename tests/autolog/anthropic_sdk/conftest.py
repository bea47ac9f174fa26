"""The anthropic tests' fixtures live in helpers.py, beside what they share."""

from tests.autolog.anthropic_sdk.helpers import anthropic_server, traced

__all__ = ["anthropic_server", "traced"]
