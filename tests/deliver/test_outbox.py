"""The outbox's guarantees on their own: racing runs, a run that died mid-send, a dead server."""

from __future__ import annotations

import threading
from datetime import timedelta

from smtp_server import SmtpServer

from flows.deliver.outbox import Outbox
from flows.deliver.smtp import SmtpConfig, SmtpTransport
from flows.store import open_store
from flows.store.deliveries import SENDING, get_delivery
from flows.store.items import utcnow
from flows.store.schema import Delivery

MESSAGE = b"From: digest@example.org\r\nTo: a@example.org\r\nSubject: test\r\n\r\nHello.\r\n"


def transport(server: SmtpServer, **kw) -> SmtpTransport:
    return SmtpTransport(
        SmtpConfig("127.0.0.1", server.port, "none", timeout=5, retries=kw.pop("retries", 2), backoff=0.01), **kw
    )


def test_racing_runs_send_once(tmp_path, smtp_server):
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    barrier = threading.Barrier(4)
    outcomes = []

    def run() -> None:
        with transport(smtp_server) as t:
            box = Outbox(store, tmp_path / "outbox", t, "digest@example.org")
            barrier.wait()
            outcomes.append(box.deliver("daily-x", "a@example.org", "<m@example.org>", lambda: MESSAGE))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(smtp_server.inbox.messages) == 1
    statuses = sorted(o.status for o in outcomes)
    assert statuses.count("sent") == 1 and set(statuses) <= {"sent", "busy", "already_sent", "queued"}
    assert get_delivery(store, "daily-x", "a@example.org").status == "sent"


def test_a_run_that_died_mid_send_is_taken_over_after_the_lease(tmp_path, smtp_server):
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    box = Outbox(store, tmp_path / "outbox", None, "digest@example.org")
    box.deliver("daily-x", "a@example.org", "<m@example.org>", lambda: MESSAGE)  # queued
    with store.session() as s:  # a run claimed it, then died before marking it
        row = s.query(Delivery).one()
        row.status, row.updated_at, row.attempts = SENDING, utcnow() - timedelta(minutes=5), 1

    with transport(smtp_server) as t:
        fresh = Outbox(store, tmp_path / "outbox", t, "digest@example.org", lease=timedelta(minutes=15))
        assert [o.status for o in fresh.flush()] == ["busy"]  # it may still be sending
        assert smtp_server.inbox.messages == []
        stale = Outbox(store, tmp_path / "outbox", t, "digest@example.org", lease=timedelta(minutes=1))
        assert [o.status for o in stale.flush()] == ["sent"]
        assert [o.status for o in stale.flush()] == []
    assert len(smtp_server.inbox.messages) == 1
    assert smtp_server.inbox.messages[0].data.replace(b"\r\n", b"\n") == MESSAGE.replace(b"\r\n", b"\n")


def test_dead_server_costs_one_backoff_not_one_per_recipient(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    slept: list[float] = []
    dead = SmtpServer()  # nothing listens on its port
    with transport(dead, retries=3, sleep=slept.append) as t:
        box = Outbox(store, tmp_path / "outbox", t, "digest@example.org")
        outcomes = [
            box.deliver("daily-x", f"r{n}@example.org", f"<m{n}@example.org>", lambda: MESSAGE) for n in range(3)
        ]
    assert [o.status for o in outcomes] == ["failed"] * 3
    assert slept == [0.01, 0.02]  # backoff doubles, for the first only
    assert outcomes[1].error.startswith("not tried: SMTP server 127.0.0.1:")
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3


def test_gives_up_after_max_attempts(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    dead = SmtpServer()
    for run in range(4):
        with transport(dead, retries=1) as t:
            box = Outbox(store, tmp_path / "outbox", t, "digest@example.org", max_attempts=3)
            box.flush()
            box.deliver("daily-x", "a@example.org", "<m@example.org>", lambda: MESSAGE)
    row = get_delivery(store, "daily-x", "a@example.org")
    assert (row.status, row.attempts) == ("failed", 3)
    with transport(dead, retries=1) as t:
        assert [o.status for o in Outbox(store, tmp_path / "outbox", t, "d@example.org", max_attempts=3).flush()] == [
            "gave_up"
        ]
