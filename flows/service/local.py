"""`make serve`: the service on this machine, with a local Prefect server when none is configured.

With a Prefect API configured (`PREFECT_API_URL`, or the active Prefect profile) this is
`uschina-digest serve`. Otherwise it starts `prefect server start` on http://127.0.0.1:4200 (its
SQLite database and log in `data/prefect/`), reuses one already answering there, waits until it
is healthy, then serves the deployments against it. Either way the web reader (`uschina-digest
web`) runs beside them on http://127.0.0.1:8080 (`USCHINA_DIGEST_WEB_PORT`); Ctrl-C stops them
all. Arguments are passed on to `serve` (e.g. `--config PATH`; the reader gets the same one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from flows.config import PROJECT_ROOT

HOST = "127.0.0.1"
HEALTH_TIMEOUT_S = 120.0


def configured_api_url() -> str | None:
    """The Prefect API of the environment or the active profile, asked in a child process so this
    one's Prefect settings are not frozen before we choose."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    out = subprocess.run(
        [sys.executable, "-c", "from prefect.settings import get_current_settings as s; print(s().api.url or '')"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or None


def healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_server(port: int, home: Path) -> subprocess.Popen:
    """`prefect server start` on the loopback, its UI pointed at its own API."""
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://{HOST}:{port}"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"{url}/api",
        "PREFECT_UI_API_URL": f"{url}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    log = (home / "server.log").open("a")
    prefect = Path(sys.executable).with_name("prefect")
    return subprocess.Popen(
        [str(prefect), "server", "start", "--host", HOST, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(api_url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while not healthy(api_url):
        if server.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise SystemExit(f"the Prefect server exited ({server.returncode}); {log}:\n{tail}")
        if time.monotonic() > deadline:
            raise SystemExit(
                f"the Prefect server did not answer {api_url}/health in {HEALTH_TIMEOUT_S:.0f}s; see {log}"
            )
        time.sleep(0.5)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def start_web(args: list[str], env: dict) -> tuple[subprocess.Popen, str]:
    """The web reader beside the service (`uschina-digest web`), on the loopback, port
    `USCHINA_DIGEST_WEB_PORT` (8080); the same `--config` as the service."""
    port = os.environ.get("USCHINA_DIGEST_WEB_PORT", "8080")
    config = [a for n, a in enumerate(args) if a.startswith("--config=") or (n and args[n - 1] == "--config")]
    config = ["--config", config[0].removeprefix("--config=")] if config else []
    cmd = [sys.executable, "-m", "flows.cli", "web", "--quiet", "--host", HOST, "--port", port, *config]
    return subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent), f"http://{HOST}:{port}/"


def _die_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM when this process's parent dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _terminate(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)  # unwind through `finally`: stop what we started


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _terminate)
    env = dict(os.environ)
    server: subprocess.Popen | None = None
    api_url = configured_api_url()
    if api_url is None:
        port = int(os.environ.get("PREFECT_SERVER_API_PORT", "4200"))
        api_url = f"http://{HOST}:{port}/api"
        home = Path(os.environ.get("PREFECT_HOME") or PROJECT_ROOT / "data" / "prefect")
        if healthy(api_url):
            print(f"Using the Prefect server already running at http://{HOST}:{port}", file=sys.stderr)
        else:
            print(
                f"Starting a local Prefect server at http://{HOST}:{port} (database and log in {home}) …",
                file=sys.stderr,
            )
            server = start_server(port, home)
            wait_healthy(api_url, server, home / "server.log")
        env["PREFECT_API_URL"] = api_url
        env.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "1")  # runs started in the UI begin within ~1 s
    ui = api_url.removesuffix("/api")
    print(
        f"\nPrefect UI: {ui}  (the newer UI: {ui}/v2/)\n"
        "  Deployments → digest/daily (or ingest/scheduled) → Run → Custom run → fill the form → Submit.\n"
        "  Ctrl-C stops serving" + (" and the local server." if server else ".") + "\n",
        file=sys.stderr,
    )
    serve = subprocess.Popen([sys.executable, "-m", "flows.cli.serve", *args], env=env)
    web, web_url = start_web(args, env)
    print(f"Web reader (archive, search, feeds): {web_url}\n", file=sys.stderr)
    try:
        return serve.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        stop(serve)
        stop(web)
        if server is not None:
            stop(server)


if __name__ == "__main__":
    sys.exit(main())
