"""How long "Run" takes to become a finished digest when the service runs it, against the same
digest built in-process (no Prefect) in the same run.

Starts `prefect server start` (SQLite) on a free loopback port and `uschina-digest serve` on a
temporary copy of the project (seeds only), ingests once, then creates `digest/daily` runs the
way the UI does and times created → Running → Completed. Run with `make bench` or directly.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    (tmp / "config").mkdir()
    shutil.copy(ROOT / "config" / "issues.yaml", tmp / "config")
    shutil.copytree(ROOT / "seeds", tmp / "seeds")
    cfg = yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())
    cfg["feeds"], cfg["email"]["recipients"] = [], []
    config = tmp / "config" / "pipeline.yaml"
    config.write_text(yaml.safe_dump(cfg))

    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "USCHINA_DIGEST_"))}
    env.update(
        PREFECT_HOME=str(tmp / "prefect"),
        PREFECT_API_URL=api_url,
        PREFECT_UI_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_RUNNER_POLL_FREQUENCY="1",
    )
    prefect = str(Path(sys.executable).with_name("prefect"))
    procs = []
    try:
        t0 = time.monotonic()
        procs.append(
            subprocess.Popen(
                [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        http = httpx.Client(base_url=api_url, timeout=30)

        def healthy():
            try:
                return http.get("/health").status_code == 200
            except httpx.HTTPError:
                return False

        wait(healthy, 180, "the Prefect server")
        server_s = time.monotonic() - t0
        t0 = time.monotonic()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "flows.cli.serve", "--quiet", "--config", str(config)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait(
            lambda: all(
                http.get(f"/deployments/name/{d}").status_code == 200 for d in ("ingest/scheduled", "digest/daily")
            ),
            120,
            "serve",
        )
        serve_s = time.monotonic() - t0

        def run(deployment: str, parameters: dict) -> dict:
            dep = http.get(f"/deployments/name/{deployment}").json()
            response = http.post(f"/deployments/{dep['id']}/create_flow_run", json={"parameters": parameters})
            if response.status_code != 201:
                raise SystemExit(f"{deployment}: {response.status_code} {response.text}")
            created = response.json()
            return wait(
                lambda: (
                    (r := http.get(f"/flow_runs/{created['id']}").json())["state"]["type"]
                    in ("COMPLETED", "FAILED", "CRASHED")
                    and r
                ),
                300,
                "the run",
            )

        run("ingest/scheduled", {"sources": "seeds"})
        timings = []
        for _ in range(RUNS):
            r = run("digest/daily", {"since": "2000-01-01T00:00:00Z"})
            assert r["state"]["type"] == "COMPLETED", r["state"]
            states = http.get("/flow_run_states/", params={"flow_run_id": r["id"]}).json()
            running = min(ts(s["timestamp"]) for s in states if s["type"] == "RUNNING")
            done = max(ts(s["timestamp"]) for s in states if s["type"] == "COMPLETED")
            timings.append((done - ts(r["created"]), running - ts(r["created"]), done - running))

        sys.path.insert(0, str(ROOT))
        from flows import pipeline
        from flows.config import load_settings

        settings = load_settings(config)
        pipeline.run_digest(settings, pipeline.DigestOptions(since=datetime(2000, 1, 1)))  # warm
        direct = []
        for _ in range(RUNS):
            t = time.perf_counter()
            pipeline.run_digest(settings, pipeline.DigestOptions(since=datetime(2000, 1, 1)))
            direct.append(time.perf_counter() - t)

        med = lambda xs: statistics.median(xs)  # noqa: E731
        print(f"prefect server healthy after {server_s:.1f}s; serve registered after {serve_s:.1f}s")
        print(f'digest/daily, created ("Run") → Completed, median of {RUNS}: {med([t[0] for t in timings]):.1f}s')
        print(f"  waiting for the runner + starting the flow process: {med([t[1] for t in timings]):.1f}s")
        print(f"  the flow run itself (Running → Completed):          {med([t[2] for t in timings]):.1f}s")
        print(f"baseline, the same digest in-process without Prefect:  {med(direct):.2f}s")
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
