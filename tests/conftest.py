"""Shared fixtures: an isolated project folder (config, seeds, data, digests) per test."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

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


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when the material is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared material {path} is not available beside the project")
    return path


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
