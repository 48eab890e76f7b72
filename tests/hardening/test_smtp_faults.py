"""SMTP refusing, timing out, accepting only some recipients, and the sender killed mid-send:
whatever happens, after the next runs every recipient has the digest — one message, once."""

from __future__ import annotations

import email
import random
import socket
import sqlite3
import threading
import time
from collections import Counter
from email import policy
from pathlib import Path

import pytest

from flows.config import load_settings
from tests.conftest import load_settings_with
from flows.pipeline import DigestOptions, IngestOptions, run_digest, run_ingest
from tests.deliver.smtp_server import free_port

from .hostile import assert_no_active_content
from .smtp import Handler, serve
from .util import kill_group, make_project, run_cli, start_cli

RECIPIENTS = [f"reader{n}@example.org" for n in range(8)]


class SilentServer:
    """Accepts TCP connections and never says a word: an SMTP server that times out."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    config = make_project(
        tmp_path,
        seeds=True,
        email={
            "smtp_host": "127.0.0.1",
            "smtp_port": free_port(),
            "security": "none",
            "timeout": 1,
            "retries": 2,
            "retry_backoff": 0.05,
            "from": "digest@news.example.org",
            "recipients": [{"address": a} for a in RECIPIENTS],
        },
    )
    run_ingest(load_settings(config), IngestOptions(sources="seeds"))
    return config


def _send(config: Path, port: int):
    settings = load_settings_with(config, {"USCHINA_DIGEST_SMTP_PORT": str(port)})
    return run_digest(settings, DigestOptions(send=True))


def _statuses(result) -> Counter:
    return Counter(d["status"] for d in result.deliveries)


def test_a_refusing_server_then_a_working_one_delivers_each_once(project: Path) -> None:
    port = free_port()  # nothing listens: connection refused
    first = _send(project, port)
    assert _statuses(first)["failed"] == len(RECIPIENTS) and first.outbox
    handler = Handler()
    server = serve(handler, port)
    try:
        second = _send(project, port)
        third = _send(project, port)
    finally:
        server.stop()
    assert handler.received() == Counter({a: 1 for a in RECIPIENTS})
    assert _statuses(second)["sent"] == len(RECIPIENTS)
    assert _statuses(third) == Counter({"already_sent": len(RECIPIENTS)})


def test_a_silent_server_times_out_and_the_next_run_delivers_each_once(project: Path) -> None:
    silent = SilentServer()
    start = time.monotonic()
    try:
        first = _send(project, silent.port)
    finally:
        silent.close()
    assert time.monotonic() - start < 20, "a silent server held the run far beyond its timeouts"
    assert _statuses(first)["failed"] + _statuses(first)["sent"] == len(RECIPIENTS)
    assert _statuses(first)["sent"] == 0
    handler = Handler()
    server = serve(handler)
    try:
        _send(project, server.port)
    finally:
        server.stop()
    assert handler.received() == Counter({a: 1 for a in RECIPIENTS})


@pytest.mark.parametrize("code", ["450 4.2.1 Mailbox busy, try later", "550 5.1.1 No such user here"])
def test_some_recipients_refused_get_it_once_later_and_no_one_twice(project: Path, code: str) -> None:
    refused = set(RECIPIENTS[::3])
    handler = Handler(refuse={a: code for a in refused})
    server = serve(handler)
    try:
        first = _send(project, server.port)
        assert handler.received() == Counter({a: 1 for a in RECIPIENTS if a not in refused})
        outcomes = {d["recipient"]: d for d in first.deliveries}
        for a in refused:
            assert outcomes[a]["status"] == "failed" and code[:3] in (outcomes[a]["error"] or "")
        handler.refuse.clear()  # the mailboxes recover
        _send(project, server.port)
        _send(project, server.port)
    finally:
        server.stop()
    assert handler.received() == Counter({a: 1 for a in RECIPIENTS})
    assert all(len(ids) == 1 for ids in handler.message_ids().values())


def test_sigkill_mid_send_then_rerun_delivers_every_recipient_its_one_message(project: Path) -> None:
    handler = Handler(delay_s=0.25)  # ~2 s to send all eight: a wide window to kill in
    server = serve(handler)
    db_path = project.parent.parent / "data" / "uschina-digest.sqlite3"
    seed = random.randrange(1_000_000)
    rnd = random.Random(seed)
    env_port = ["--config", str(project)]
    from .util import clean_env

    env = clean_env(USCHINA_DIGEST_SMTP_PORT=str(server.port))
    kills = []
    try:
        for _ in range(2):
            before = len(handler.messages)
            proc = start_cli("digest", *env_port, "--send", "-q", env=env)
            deadline = time.monotonic() + 60
            while len(handler.messages) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rnd.uniform(0, 1.5))
            kills.append((len(handler.messages), proc.poll() is not None))
            kill_group(proc)
            with sqlite3.connect(db_path) as db:  # the next scheduled run comes after the lease
                assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
                db.execute("update deliveries set updated_at = '2000-01-01 00:00:00' where status = 'sending'")
        code, out, err, _ = run_cli("digest", *env_port, "--send", "-q", env=env, timeout=120)
        assert code == 0, err[-2000:]
    finally:
        server.stop()
    received = handler.received()
    ids = handler.message_ids()
    duplicates = {a: n for a, n in received.items() if n > 1}
    print(f"smtp kill: seed {seed}, kills (messages so far, finished) {kills}, duplicates {duplicates}")
    assert set(received) == set(RECIPIENTS), f"seed {seed}: never delivered: {set(RECIPIENTS) - set(received)}"
    assert all(len(v) == 1 for v in ids.values()), f"seed {seed}: a recipient got two different messages"
    # A copy beyond the first is only possible for a kill between the server's 250 and the log's
    # "sent" (the same message, same Message-ID, which receivers drop); at most one per kill.
    assert sum(n - 1 for n in received.values()) <= len(kills), f"seed {seed}: {duplicates}"
    with sqlite3.connect(db_path) as db:
        assert Counter(s for (s,) in db.execute("select status from deliveries")) == Counter({"sent": len(RECIPIENTS)})
    for _, data in handler.messages[:2]:
        body = email.message_from_bytes(data, policy=policy.default).get_body(("html",))
        assert_no_active_content(body.get_content())
