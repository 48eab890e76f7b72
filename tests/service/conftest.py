"""Fixtures of the service tests. Their machinery lives in harness.py, which the test modules import
by its package name (`from conftest import …` would find whichever conftest.py was loaded last)."""

from tests.service.harness import feed_server, postgres, prefect_api, service  # noqa: F401 (fixtures)
