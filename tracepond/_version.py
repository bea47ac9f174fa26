"""The package version, in the lowest layer: internal code reads it here, never from the facade."""

__version__ = "0.1.0"
