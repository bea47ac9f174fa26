"""The runs and models commands read stores filled through the public API (tests/tracking)."""

from tests.tracking.conftest import no_active_run, snapshot, store

__all__ = ["no_active_run", "snapshot", "store"]
