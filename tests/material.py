"""What the suite needs from outside the project, and what it means when a piece is missing.

Test material (`../shared` beside the checkout), a browser (Debian's `chromium`) and a database
(PostgreSQL's server binaries) are not in the repository. On a developer's machine a test whose
material is missing skips with the reason; in CI (`CI=true`, as `.ci/run` runs) it fails with
that reason instead, because a check that passes by skipping checks nothing. `missing()` lists
every absent piece at once, so CI can stop before the suite runs (tests/conftest.py does).

The benchmarks find `../shared` here too, so there is one place that knows where it lives.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CHROMIUM_PATHS = ("chromium", "chromium-browser")


def in_ci() -> bool:
    """Whether this is a CI run (`CI=true`, `CI=1`), where nothing may pass by skipping."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test with `reason`, or fail it with `reason` in CI."""
    import pytest

    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing requirement fails the check instead of skipping it)", pytrace=False)
    pytest.skip(reason)


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips (fails in CI) with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        unavailable(f"shared material {path} is not available beside the project")
    return path


def chromium_path() -> str | None:
    """The system Chromium (`apt-get install chromium`), or None."""
    for name in CHROMIUM_PATHS:
        found = shutil.which(name)
        if found:
            return found
    return None


def postgres_bindir() -> Path | None:
    """Debian's PostgreSQL server binaries (`apt-get install postgresql`), newest version first."""
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(initdb).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def missing() -> list[str]:
    """Every outside requirement of the suite that is absent, each as a one-line reason."""
    reasons = []
    if not SHARED.is_dir():
        reasons.append(
            f"test material: {SHARED} does not exist (the shared fixtures and eval sets beside the checkout)"
        )
    if chromium_path() is None:
        reasons.append("browser: chromium is not on PATH (apt-get install chromium)")
    if postgres_bindir() is None:
        reasons.append(
            "database: PostgreSQL server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql)"
        )
    for module, package in (("psycopg", "psycopg"), ("playwright", "playwright")):
        if importlib.util.find_spec(module) is None:
            reasons.append(f"python package: {package} is not installed (make install)")
    return reasons
