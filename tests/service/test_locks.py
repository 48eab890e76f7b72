"""The lease guard on SQLite: exclusive, re-entrant for its holder, taken over once expired, kept
alive by its heartbeat, shared with child runs only by token, and the pipeline honours it."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from flows.locks.guard import LeaseBusy, LeaseLost, held, labelled, lease
from flows.store import open_store
from flows.locks.leases import lease_info, release, renew, try_acquire

MINUTE = timedelta(minutes=1)


@pytest.fixture
def store(tmp_path):
    return open_store(f"sqlite:///{tmp_path / 'locks.sqlite3'}")


def test_try_acquire_is_exclusive_until_released_or_expired(store):
    now = datetime.now(timezone.utc)
    assert try_acquire(store, "ingest", "a", MINUTE, now)
    assert not try_acquire(store, "ingest", "b", MINUTE, now)
    assert try_acquire(store, "ingest", "a", MINUTE, now)  # the holder may extend it
    assert try_acquire(store, "digest", "b", MINUTE, now)  # other names are independent
    assert not release(store, "ingest", "b")  # only the holder releases
    assert not try_acquire(store, "ingest", "b", MINUTE, now + timedelta(seconds=59))
    assert try_acquire(store, "ingest", "b", MINUTE, now + timedelta(seconds=61))  # expired: taken over
    assert lease_info(store, "ingest").holder == "b"
    assert not renew(store, "ingest", "a", MINUTE)  # the old holder has lost it
    assert release(store, "ingest", "b") and lease_info(store, "ingest") is None


def test_lease_names_the_holder_when_busy_and_frees_on_exit(store):
    with labelled("flow run nimble-fox"), lease(store, "ingest") as token:
        assert "flow run nimble-fox" in token and held("ingest") == token
        with pytest.raises(LeaseBusy) as busy:
            with lease(store, "ingest"):
                pass
        assert "another ingest run is in progress" in str(busy.value)
        assert "flow run nimble-fox" in str(busy.value)
    assert held("ingest") is None and lease_info(store, "ingest") is None
    with lease(store, "ingest"):  # free again
        pass


def test_lease_is_released_when_the_block_raises(store):
    with pytest.raises(RuntimeError):
        with lease(store, "digest"):
            raise RuntimeError("render failed")
    assert lease_info(store, "digest") is None


def test_waiting_for_a_busy_lease_gets_it_when_the_holder_finishes(store):
    got = threading.Event()

    def holder():
        with lease(store, "digest"):
            got.set()
            time.sleep(0.8)

    t = threading.Thread(target=holder)
    t.start()
    got.wait(5)
    started = time.monotonic()
    with lease(store, "digest", wait=10, poll=0.05):
        waited = time.monotonic() - started
    t.join()
    assert 0.3 < waited < 5


def test_heartbeat_keeps_a_long_holder_s_lease_alive(store):
    ttl = timedelta(seconds=0.6)
    with lease(store, "ingest", ttl=ttl):
        time.sleep(1.5)  # two and a half lifetimes
        # still ours: a competitor arriving now finds it held
        assert not try_acquire(store, "ingest", "competitor", ttl)


def test_child_runs_join_the_parent_lease_by_token_and_leave_it_to_the_parent(store):
    with lease(store, "ingest") as parent:
        with lease(store, "ingest", holder=parent, inherit=True):
            pass
        assert lease_info(store, "ingest").holder == parent  # the child did not release it
        with pytest.raises(LeaseBusy):  # a stranger still cannot
            with lease(store, "ingest"):
                pass
    with pytest.raises(LeaseLost):  # the parent is gone: refuse
        with lease(store, "ingest", holder=parent, inherit=True):
            pass


def test_a_second_ingest_is_refused_while_one_runs(settings):
    from flows import pipeline

    store = pipeline.store_for(settings)
    with lease(store, "ingest"):
        with pytest.raises(LeaseBusy):
            pipeline.run_ingest(settings, pipeline.IngestOptions(sources="seeds"))
    report = pipeline.run_ingest(settings, pipeline.IngestOptions(sources="seeds"))
    assert report.items_new == 5
    assert lease_info(store, "ingest") is None


def test_split_feeds_deals_every_feed_into_one_shard():
    from flows.config import FeedSource
    from flows.pipeline import split_feeds

    feeds = [FeedSource(url=f"https://example.org/{n}.xml") for n in range(7)]
    parts = split_feeds(feeds, 3)
    assert [len(p) for p in parts] == [3, 2, 2]
    assert sorted(f.url for p in parts for f in p) == sorted(f.url for f in feeds)
    assert split_feeds(feeds[:2], 5) == [[feeds[0]], [feeds[1]]]  # never an empty shard
    assert split_feeds([], 4) == []


def test_a_lease_held_by_a_dead_local_process_is_taken_over_at_once(tmp_path):
    import subprocess
    import sys

    from flows.locks.guard import holder_died, lease, new_holder
    from flows.store import open_store
    from flows.locks.leases import lease_info, try_acquire

    store = open_store(f"sqlite:///{tmp_path / 'l.sqlite3'}")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket
    from datetime import timedelta

    dead_holder = f"{socket.gethostname()}:{int(dead.stdout)} #0123abcd"
    assert try_acquire(store, "ingest", dead_holder, timedelta(minutes=5))
    assert holder_died(dead_holder) and not holder_died(new_holder())
    assert not holder_died(f"elsewhere:{int(dead.stdout)} #0123abcd")  # other hosts: wait for the TTL
    with lease(store, "ingest") as mine:
        assert lease_info(store, "ingest").holder == mine != dead_holder
