"""The web reader over the digest tests' newsroom, with a digest written and two saved searches,
served by uvicorn on 127.0.0.1 (a real server, in a thread of the test process)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def reader_project(tmp_path_factory):
    """A project like the `project` fixture's, made once per test module (the newsroom and its
    digest take seconds to build; the tests of a module only read it, or correct labels in it)."""
    import shutil

    from tests.conftest import ROOT

    root = tmp_path_factory.mktemp("reader")
    (root / "config").mkdir()
    shutil.copy(ROOT / "config" / "issues.yaml", root / "config" / "issues.yaml")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    cfg = yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())
    cfg["feeds"] = []
    (root / "config" / "pipeline.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return root


@pytest.fixture(scope="module")
def reader_settings(reader_project):
    from flows import pipeline
    from flows.config import load_settings
    from tests.digest.newsroom import SINCE, UNTIL, build_newsroom

    project = reader_project

    (project / "config" / "alerts.yaml").write_text(
        yaml.safe_dump(
            {
                "alerts": [
                    {
                        "name": "taiwan-arms",
                        "query": 'taiwan "arms package" OR "weapons sale"',
                        "recipients": ["a@example.org"],
                    },
                    {"name": "chips", "query": "chip* issue:technology", "recipients": ["b@example.org"]},
                ]
            }
        )
    )
    settings = load_settings(project / "config" / "pipeline.yaml")
    build_newsroom(pipeline.store_for(settings))
    pipeline.build_digest(settings, pipeline.DigestOptions(since=SINCE, until=UNTIL))
    return settings


@pytest.fixture(scope="module")
def reader(reader_settings):
    """(base URL, settings) of a running reader."""
    import uvicorn

    from flows.web.app import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(reader_settings), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the reader did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", reader_settings
    server.should_exit = True
    thread.join(10)
