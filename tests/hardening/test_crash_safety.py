"""Crash safety: `uschina-digest ingest` killed with SIGKILL at random points, then re-run.

After every kill the SQLite store must pass `PRAGMA integrity_check` and hold only whole items;
after a final uninterrupted run it must hold exactly the items an uninterrupted ingest stores —
each once — and all of them classified. Kill points are drawn from a fixed seed (CRASH_SEED to
try others), inside the window where the run is doing work: after its first request to the feed
server and within 60 % of the time an uninterrupted run's work takes, and each kill must find the
run still running (a kill after it finished would test nothing).
"""

from __future__ import annotations

import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from flows.config import load_settings
from flows.locks.guard import LeaseBusy, lease
from flows.records import content_hash
from flows.pipeline import IngestOptions, run_ingest
from flows.store import open_store
from flows.locks.leases import try_acquire
from tests.faultserver import FaultServer

from .util import kill_group, make_project, need_fixtures, run_cli, start_cli

# Small real feeds (21 entries) and the 5 seeds, so a kill lands in fetching, extraction or storing.
CRASH_FEEDS = ["c297e9381ecd4a00.feed", "c8ffd33cfd9f8891.feed", "137dd53eb3d6d860.feed"]
KILLS = 2
SEED = int(os.environ.get("CRASH_SEED", "20261202"))
KILL_WINDOW = 0.6  # kills land within this share of an uninterrupted run's working time


def _config(root: Path, fs: FaultServer) -> Path:
    return make_project(
        root,
        seeds=True,
        feeds=[{"url": u} for u in fs.feed_urls(CRASH_FEEDS)],
        fetch={"allow_private_addresses": True, "connect_timeout": 3, "read_timeout": 5, "full_text": True},
    )


def _db(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "data" / "uschina-digest.sqlite3", timeout=30)


def check_store(root: Path) -> set[str]:
    """The store is consistent and holds only whole items; returns their ids."""
    path = root / "data" / "uschina-digest.sqlite3"
    if not path.exists():
        return set()
    with _db(root) as db:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert db.execute("pragma foreign_key_check").fetchall() == []
        try:
            rows = db.execute("select id, key, title, text, content_hash from items").fetchall()
        except sqlite3.OperationalError:  # killed before the schema was created
            return set()
    for item_id, key, title, text, digest in rows:
        assert key and title and text is not None, f"half-written item {item_id}"
        assert digest == content_hash(text), f"item {item_id} text does not match its hash"
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids))
    return set(ids)


@pytest.fixture(scope="module")
def server():
    need_fixtures("feeds")
    with FaultServer(seed=SEED) as fs:
        yield fs


@pytest.fixture(scope="module")
def reference(server, tmp_path_factory) -> tuple[set[str], float]:
    """What one uninterrupted ingest stores, and how long its work took (in this process)."""
    root = tmp_path_factory.mktemp("reference")
    settings = load_settings(_config(root, server))
    start = time.monotonic()
    report = run_ingest(settings, IngestOptions(force=True))
    took = time.monotonic() - start
    assert report.items_new >= 20, report.to_dict()
    return check_store(root), took


def test_sigkill_at_random_points_loses_nothing_and_stores_nothing_twice(server, reference, tmp_path) -> None:
    expected, work_s = reference
    rnd = random.Random(SEED)
    config = _config(tmp_path, server)
    kills = []
    for round_ in range(KILLS):
        before = sum(server.requests.values())
        proc = start_cli("ingest", "--config", str(config), "--force", "-q")
        deadline = time.monotonic() + 60
        while sum(server.requests.values()) == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is not None or sum(server.requests.values()) == before:
            kill_group(proc)
            pytest.fail(f"seed {SEED}: round {round_} never started working:\n{proc.stderr.read().decode()[-2000:]}")
        delay = rnd.uniform(0.0, KILL_WINDOW * max(work_s, 1.0))
        time.sleep(delay)
        finished = proc.poll() is not None
        kill_group(proc)
        assert not finished, (
            f"seed {SEED}: round {round_}: the run had finished {delay:.2f} s after its first "
            f"request, before the kill (an uninterrupted run works {work_s:.1f} s)"
        )
        stored = check_store(tmp_path)
        kills.append((round(delay, 2), finished, len(stored)))
        assert stored <= expected, f"seed {SEED}: items no clean run stores: {sorted(stored - expected)[:5]}"
    code, out, err, _ = run_cli("ingest", "--config", str(config), "--force", "-q", timeout=180)
    assert code == 0, f"seed {SEED}: re-run after kills {kills} failed:\n{err[-3000:]}"
    stored = check_store(tmp_path)
    assert stored == expected, (
        f"seed {SEED}, kills {kills}: missing {len(expected - stored)}, unexpected {len(stored - expected)}"
    )
    with _db(tmp_path) as db:
        unclassified = db.execute("select count(*) from items where classifier_version is null").fetchone()[0]
    assert unclassified == 0, f"seed {SEED}: {unclassified} items left unclassified after the re-run"
    print(f"crash safety: seed {SEED}, kills (delay s, finished, items stored) {kills}, final {len(stored)}")


def test_a_lease_left_by_a_killed_process_is_taken_over_at_once(tmp_path: Path) -> None:
    """A SIGKILLed run cannot release its lease; the next run on the same machine sees that the
    holder is gone instead of waiting out the lease (or failing as "busy")."""
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    holder = f"{socket.gethostname()}:{sleeper.pid} #0123abcd"
    try:
        assert try_acquire(store, "ingest", holder, timedelta(minutes=5))
        with pytest.raises(LeaseBusy):  # alive: it keeps its lease
            with lease(store, "ingest"):
                pass
    finally:
        sleeper.kill()
        sleeper.wait()
    start = time.monotonic()
    with lease(store, "ingest") as mine:
        assert mine != holder
    assert time.monotonic() - start < 2
    assert try_acquire(store, "digest", "elsewhere:1 #0123abcd", timedelta(minutes=5))
    with pytest.raises(LeaseBusy):  # another machine's holder is never presumed dead
        with lease(store, "digest"):
            pass
