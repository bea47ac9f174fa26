"""The notebook display renders the viewer tests' sample store."""

from tests.viewer.conftest import artifacts, sample_store

__all__ = ["artifacts", "sample_store"]
