"""Shared fixtures: an isolated project folder (config, seeds, data, digests) per test."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.material import ROOT, in_ci, missing, shared_path  # noqa: F401 (shared_path: for test modules)

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Tests never inherit the developer's Prefect server or config overrides.
for _key in [k for k in os.environ if k.startswith("USCHINA_DIGEST_")]:
    del os.environ[_key]
os.environ.pop("PREFECT_API_URL", None)

# `make test` (and so CI) draws the same Hypothesis examples on every run: a landing must not turn
# red on a rare draw. `make fuzz` draws new ones (HYPOTHESIS_PROFILE=explore) to look for bugs; a
# failing example it finds is saved in .hypothesis/ and replayed first after that.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("repeatable", derandomize=True, print_blob=True)
_hypothesis_settings.register_profile("explore", print_blob=True)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI, stop before running anything when a requirement is missing, naming each one: a
    suite that would skip its browser, database or shared-material checks proves nothing."""
    if in_ci() and (absent := missing()):
        pytest.exit("CI=true and the suite cannot run in full:\n  " + "\n  ".join(absent), returncode=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """In CI a skip is a failure with the skip's reason (a `skipif` mark, a skip in a fixture or
    a helper); outside CI skips stay, and `-ra` lists their reasons."""
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true), which counts as a failure: {reason}"


def load_settings_with(path, env: dict[str, str]):
    """`load_settings(path)` with these environment variables set for the call (the suite runs with
    no USCHINA_DIGEST_* variables of its own: see the top of this file)."""
    from flows.config import load_settings

    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return load_settings(path)


@pytest.fixture
def project(tmp_path: Path):
    """A project copy in tmp: config/ (defaults, no feeds), seeds/, data/ and digests/ folders."""
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "issues.yaml", tmp_path / "config" / "issues.yaml")
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    cfg = yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())
    cfg["feeds"] = []
    (tmp_path / "config" / "pipeline.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return tmp_path


def write_config(project: Path, **overrides) -> Path:
    path = project / "config" / "pipeline.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg.update(overrides)
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


@pytest.fixture
def settings(project: Path):
    from flows.config import load_settings

    return load_settings(project / "config" / "pipeline.yaml")


@pytest.fixture(scope="session")
def prefect_server():
    """One real Prefect test server for the whole session (~12 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
