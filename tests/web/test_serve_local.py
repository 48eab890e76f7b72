"""`make serve` starts the web reader beside the service: `start_web` runs `uschina-digest web` with
the service's --config, on the loopback, and it answers until stopped."""

from __future__ import annotations

import os
import time

import httpx


def test_start_web_serves_the_reader_with_the_same_config(project, monkeypatch):
    from flows.service.local import start_web, stop
    from tests.web.conftest import free_port

    port = free_port()
    monkeypatch.setenv("USCHINA_DIGEST_WEB_PORT", str(port))
    proc, url = start_web(["--limit", "2", "--config", str(project / "config" / "pipeline.yaml")], dict(os.environ))
    try:
        assert url == f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the reader exited"
            try:
                page = httpx.get(url, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the reader did not answer"
                time.sleep(0.3)
        assert page.status_code == 200 and "Archive" in page.text
        assert (project / "data" / "web-secret.key").exists()  # its data folder is the project's
    finally:
        stop(proc)
    assert proc.poll() is not None
