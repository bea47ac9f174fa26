"""Fixtures of the interop tests: ``viewer`` is the one of tests/viewer/test_ingest.py (a viewer
served by uvicorn on 127.0.0.1: its base URL and store path)."""

from tests.viewer.test_ingest import viewer

__all__ = ["viewer"]
