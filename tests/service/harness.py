"""The service, for real: a `prefect server start` on a free loopback port, `uschina-digest serve`
as a subprocess, local RSS feeds over HTTP, and a throwaway PostgreSQL cluster when the
binaries are installed (the Prefect server then keeps its database there too)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import yaml

from tests.material import in_ci
from tests.pgcluster import Cluster, server_binaries

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.3):
    """Poll until `predicate()` is truthy; its value, or a failure naming what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# ------------------------------------------------------------------ PostgreSQL


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the session (the Prefect server's database lives there too)."""
    cluster = Cluster(max_connections=200)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


# ------------------------------------------------------------------ local feeds

FEED_ITEMS = {
    # feed -> article numbers; 4–6 are in both feeds (same guid URL: one item in the store)
    "a": range(1, 7),
    "b": range(4, 10),
}
TOPICS = [
    (
        "Washington raises tariffs on Chinese steel as Beijing vows retaliation",
        "The United States raised tariffs on Chinese steel and aluminum on Monday. Beijing said the trade "
        "measures violate WTO rules and promised countermeasures against American exports.",
    ),
    (
        "US warship sails through the Taiwan Strait; China protests",
        "A US Navy destroyer transited the Taiwan Strait, and China's military shadowed it. Beijing called "
        "the passage a provocation; Washington said it upheld freedom of navigation near Taiwan.",
    ),
    (
        "Commerce Department tightens export controls on chips to China",
        "The US Commerce Department added Chinese firms to the entity list and tightened export controls on "
        "advanced semiconductors and chipmaking tools bound for China.",
    ),
]


def article_title(n: int) -> str:
    return f"{TOPICS[n % 3][0]} (report {n})"


def _rss(base: str, feed: str) -> str:
    items = "".join(
        f"<item><title>{article_title(n)}</title><link>{base}/article/{n}</link>"
        f'<guid isPermaLink="true">{base}/article/{n}</guid>'
        f"<pubDate>Sat, 21 Nov 2026 0{n % 10}:00:00 GMT</pubDate>"
        f"<description>{TOPICS[n % 3][1]} Report {n}.</description></item>"
        for n in FEED_ITEMS[feed]
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local feed {feed}</title>'
        f"<link>{base}/</link><description>test feed</description>{items}</channel></rss>"
    )


@dataclass
class FeedServer:
    base: str
    delay: float = 0.0  # seconds each feed response waits: a slow source, for overlap tests

    def url(self, feed: str) -> str:
        return f"{self.base}/feed/{feed}.xml"

    @property
    def distinct_items(self) -> int:
        return len(set().union(*map(set, FEED_ITEMS.values())))


@pytest.fixture(scope="session")
def feed_server() -> Iterator[FeedServer]:
    """Two RSS feeds (sharing three articles) and their article pages on 127.0.0.1."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    feeds = FeedServer(base)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path.startswith("/feed/") and self.path[6:7] in FEED_ITEMS:
                time.sleep(feeds.delay)
                body, ctype = _rss(base, self.path[6:7]), "application/rss+xml"
            elif self.path.startswith("/article/"):
                n = int(self.path.rsplit("/", 1)[1])
                title, text = TOPICS[n % 3]
                body = (
                    f"<html><head><title>{article_title(n)}</title></head><body><article><h1>{article_title(n)}</h1>"
                    + "".join(f"<p>{text} Paragraph {k} of report {n}.</p>" for k in range(6))
                    + "</article></body></html>"
                )
                ctype = "text/html; charset=utf-8"
            elif self.path == "/robots.txt":
                body, ctype = "User-agent: *\nAllow: /\n", "text/plain"
            else:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield feeds
    finally:
        server.shutdown()


def make_project(folder: Path, feeds: FeedServer, **overrides) -> Path:
    """A project folder (config, seeds, data, digests) whose config lists the two local feeds."""
    (folder / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "issues.yaml", folder / "config" / "issues.yaml")
    shutil.copytree(ROOT / "seeds", folder / "seeds")
    cfg = yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())
    cfg["feeds"] = [{"url": feeds.url("a"), "name": "Local A"}, {"url": feeds.url("b"), "name": "Local B"}]
    cfg["fetch"].update({"allow_private_addresses": True, "full_text": False, "connect_timeout": 5, "read_timeout": 10})
    cfg["email"]["recipients"] = []
    cfg.update(overrides)
    path = folder / "config" / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def update_config(path: Path, **sections) -> None:
    cfg = yaml.safe_load(path.read_text())
    for key, value in sections.items():
        if isinstance(value, dict):
            cfg.setdefault(key, {}).update(value)
        else:
            cfg[key] = value
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))


# ------------------------------------------------------------------ Prefect server and API


@dataclass
class PrefectServer:
    url: str  # the UI
    api_url: str
    database: str  # "postgresql" or "sqlite"
    home: Path
    env: dict = field(default_factory=dict)  # for client processes (serve, workers)


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("USCHINA_DIGEST_", "PREFECT_"))}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="session")
def prefect_api(request, tmp_path_factory) -> Iterator[PrefectServer]:
    """`prefect server start` on a free loopback port, its database on PostgreSQL when available."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _clean_env()
    # The scheduler stays off: a served schedule firing mid-session (an ingest every 20 minutes)
    # would change what the tests find in the store. test_schedules_planned.py runs it.
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=f"{url}/api",
        PREFECT_UI_API_URL=f"{url}/api",
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
    )
    database = "sqlite"
    if server_binaries() is not None or in_ci():  # in CI a missing PostgreSQL fails, not falls back
        pg: Cluster = request.getfixturevalue("postgres")
        pg.create_database("prefect")
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = pg.url("prefect", driver="asyncpg")
        database = "postgresql"
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [str(Path(PYTHON).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def healthy() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"prefect server exited: {(home / 'server.log').read_text()[-3000:]}")
        try:
            return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, 120, "the Prefect server to answer /api/health", interval=0.5)
        client_home = tmp_path_factory.mktemp("prefect-client")
        client_env = _clean_env()
        client_env.update(
            PREFECT_HOME=str(client_home),
            PREFECT_API_URL=f"{url}/api",
            PREFECT_RUNNER_POLL_FREQUENCY="1",
            PREFECT_LOGGING_LEVEL="INFO",
        )
        yield PrefectServer(url, f"{url}/api", database, home, client_env)
    finally:
        stop_process(proc)
        log.close()


class Api:
    """The Prefect REST API, called the way the UI calls it."""

    def __init__(self, api_url: str):
        self.http = httpx.Client(base_url=api_url, timeout=30)

    def deployment(self, name: str) -> dict:
        r = self.http.get(f"/deployments/name/{name}")
        r.raise_for_status()
        return r.json()

    def deployments(self) -> dict[str, dict]:
        flows = {f["id"]: f["name"] for f in self.http.post("/flows/filter", json={}).json()}
        return {f"{flows[d['flow_id']]}/{d['name']}": d for d in self.http.post("/deployments/filter", json={}).json()}

    def create_run(self, deployment: str, parameters: dict, name: str | None = None) -> httpx.Response:
        dep = self.deployment(deployment)
        body = {"parameters": parameters, "state": {"type": "SCHEDULED", "name": "Scheduled"}}
        if name:
            body["name"] = name
        return self.http.post(f"/deployments/{dep['id']}/create_flow_run", json=body)

    def run(self, run_id: str) -> dict:
        r = self.http.get(f"/flow_runs/{run_id}")
        r.raise_for_status()
        return r.json()

    def wait(self, run_id: str, timeout: float = 120) -> dict:
        def final():
            run = self.run(run_id)
            return run if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

        return wait_for(final, timeout, f"flow run {run_id} to finish", interval=0.25)

    def runs(self, **flow_runs_filter) -> list[dict]:
        return self.http.post("/flow_runs/filter", json={"flow_runs": flow_runs_filter}).json()

    def artifacts(self, run_id: str) -> dict[str, dict]:
        found = self.http.post("/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}}).json()
        return {a["key"]: a for a in found}

    def timeline(self, run_id: str) -> str:
        """`Scheduled 0.0s → Pending 0.8s → Running 4.1s → Completed 6.0s`, from the run's creation."""
        run = self.run(run_id)
        states = self.http.get("/flow_run_states/", params={"flow_run_id": run_id}).json()
        t0 = _ts(run["created"])
        return " → ".join(
            f"{st['name']} {_ts(st['timestamp']) - t0:.1f}s" for st in sorted(states, key=lambda st: st["timestamp"])
        )

    def logs(self, run_id: str) -> list[dict]:
        return self.http.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200}).json()


class Serve:
    """`uschina-digest serve` in a subprocess (the command `flows.cli.serve` provides)."""

    NAMES = ("ingest/scheduled", "digest/daily", "digest/weekly", "ingest-shard/served")

    def __init__(self, config: Path, env: dict, log_path: Path):
        self.config, self.env, self.log_path = config, env, log_path
        self.proc: subprocess.Popen | None = None

    def start(self, api: Api, timeout: float = 90) -> None:
        started = time.time()
        self.log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "flows.cli.serve", "--config", str(self.config)],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"serve exited {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
            deps = api.deployments()
            # registered by this process (updated since it started) and polled by its runner
            return all(
                n in deps and deps[n].get("status") == "READY" and _ts(deps[n]["updated"]) >= started - 1
                for n in self.NAMES
            )

        wait_for(ready, timeout, "serve to register its deployments and poll for runs", interval=0.5)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)  # SIGTERM: Prefect shuts the runner down gracefully
            self.log.close()


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


SCHEDULE_BEFORE = {
    "timezone": "America/New_York",
    "ingest_interval_minutes": 45,
    "daily_cron": "15 6 * * *",
    "weekly_cron": "15 6 * * 1",
}
SCHEDULE_AFTER = {
    "timezone": "Asia/Shanghai",
    "ingest_interval_minutes": 20,
    "daily_cron": "0 8 * * *",
    "weekly_cron": "30 7 * * 5",
}


def schedules(api: Api) -> dict[str, list[dict]]:
    return {name: [s["schedule"] for s in dep["schedules"]] for name, dep in api.deployments().items()}


@dataclass
class Service:
    project: Path
    config: Path
    api: Api
    server: PrefectServer
    schedules_before: dict
    schedules_after: dict
    paused_after_stop: dict


@pytest.fixture(scope="session")
def service(prefect_api, feed_server, tmp_path_factory) -> Iterator[Service]:
    """`serve` started on one schedule, stopped, the YAML edited, and started again on the new one."""
    project = tmp_path_factory.mktemp("service-project")
    config = make_project(project, feed_server, schedule=SCHEDULE_BEFORE)
    api = Api(prefect_api.api_url)
    first = Serve(config, prefect_api.env, project / "serve.log")
    first.start(api)
    before = schedules(api)
    first.stop()
    paused = {name: dep["paused"] for name, dep in api.deployments().items()}
    update_config(config, schedule=SCHEDULE_AFTER)
    second = Serve(config, prefect_api.env, project / "serve.log")
    second.start(api)
    # `start` sees a deployment as registered once it was updated since the process started, but
    # the server itself may touch a deployment then (seen under load: the weekly digest still had
    # the first serve's schedule). Every schedule differs between the two configs, so wait
    # (bounded) until each has changed; the tests then check they are exactly the new config's.
    scheduled = ("ingest/scheduled", "digest/daily", "digest/weekly")
    wait_for(
        lambda: all(schedules(api)[name] != before[name] for name in scheduled),
        60,
        "the second serve to replace every schedule",
    )
    try:
        yield Service(project, config, api, prefect_api, before, schedules(api), paused)
    finally:
        second.stop()
