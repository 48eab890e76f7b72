"""Helpers shared by the hardening tests: fixture paths, project set-up, CLI subprocesses."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from tests.material import ROOT, SHARED, shared_path

FIXTURES = SHARED / "fixtures"
# The installed console script, as a user runs it (`python -m flows.cli` is not an entry point).
_SCRIPT = Path(sys.executable).parent / "uschina-digest"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from flows.cli import main; main()"]


def need_fixtures(*parts: str) -> Path:
    """A fixture path under ../shared/fixtures; skips (fails in CI) with the reason when it is absent."""
    return shared_path("fixtures", *parts)


def make_project(root: Path, *, seeds: bool = False, **config) -> Path:
    """A project folder (config/, data/, digests/, seeds/) with the given config keys; returns the config path."""
    (root / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "issues.yaml", root / "config" / "issues.yaml")
    if seeds:
        shutil.copytree(ROOT / "seeds", root / "seeds", dirs_exist_ok=True)
    cfg = yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())
    cfg["feeds"] = []
    cfg["seeds_dir"] = "../seeds" if seeds else None
    cfg["email"]["recipients"] = []
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    path = root / "config" / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: no inherited project or Prefect overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("USCHINA_DIGEST_", "PREFECT_API_URL"))}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONUNBUFFERED="1", **extra)
    return env


def start_cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    """`uschina-digest ARGS` in its own process group (so a kill reaches its workers too)."""
    return subprocess.Popen(
        [*CLI, *args],
        cwd=ROOT,
        env=env or clean_env(),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the process group this test started (the CLI and any worker processes it forked)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


RELEVANT_TEXT = (
    "Beijing warned Washington over US arms sales to Taiwan, and the Chinese foreign ministry "
    "summoned the American ambassador. The United States said the package for Taiwan was routine."
)


def run_cli(*args: str, timeout: float = 120, mem_limit_mb: float | None = None, env: dict[str, str] | None = None):
    """Run the CLI to completion under a wall-clock and a memory bound; returns (returncode,
    stdout, stderr, sampler). Past either bound the process group is killed and returncode is None."""
    from .memwatch import TreeSampler

    proc = start_cli(*args, env=env)
    with TreeSampler(proc.pid, limit_mb=mem_limit_mb, on_exceed=lambda: kill_group(proc)) as sampler:
        try:
            out, err = proc.communicate(timeout=timeout)
            code = None if sampler.exceeded else proc.returncode
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            code = None
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), sampler
