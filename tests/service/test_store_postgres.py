"""The store with concurrent writers on a real PostgreSQL: nothing lost, nothing stored twice, one
lease holder — processes started together and released at the same instant."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from tests.service.harness import PYTHON, ROOT, make_project, update_config, wait_for

from tests.pgcluster import Cluster

WORKER = Path(__file__).with_name("pg_worker.py")


def run_together(tmp_path: Path, commands: dict[str, list[str]], timeout: float = 120) -> dict[str, dict]:
    """Start one worker process per command, let them all connect, then release them at once."""
    sync = tmp_path / f"sync-{uuid.uuid4().hex[:6]}"
    sync.mkdir()
    procs = {
        name: subprocess.Popen(
            [PYTHON, str(WORKER), str(sync), name, *cmd],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, cmd in commands.items()
    }
    try:

        def all_ready() -> bool:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    pytest.fail(f"worker {name} exited early: {proc.stderr.read()[-2000:]}")
            return all((sync / f"{name}.ready").exists() for name in procs)

        wait_for(all_ready, timeout, "the workers to connect", interval=0.05)
        (sync / "go").touch()
        results = {}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, f"worker {name} failed: {err[-3000:]}"
            results[name] = json.loads(out.strip().splitlines()[-1])
        return results
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()


def article(n: int):
    from flows.records import Article

    return Article(
        key=f"https://news.example.org/story/{n}",
        source="Concurrent",
        source_kind="feed",
        url=f"https://news.example.org/story/{n}",
        title=f"Story {n}",
        text=f"Beijing and Washington, story {n}, on tariffs.",
    )


@pytest.fixture
def pg_url(postgres: Cluster) -> str:
    return postgres.create_database(f"store_{uuid.uuid4().hex[:8]}")


def run_threads(work: dict[str, callable]) -> dict:
    """Run each callable in its own thread (each opens its own connections), released at once."""
    barrier = threading.Barrier(len(work))
    results: dict = {}
    errors: list = []

    def run(name, fn):
        try:
            results[name] = fn(barrier)
        except Exception as e:  # surfaced below with the worker's name
            errors.append((name, e))

    threads = [threading.Thread(target=run, args=item) for item in work.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def test_concurrent_writers_neither_lose_nor_duplicate_items(pg_url):
    from flows.store import open_store
    from flows.store.items import count_items, upsert_items

    ranges = {"w1": (0, 300), "w2": (100, 400), "w3": (200, 500), "w4": (0, 500)}
    open_store(pg_url).close()  # tables exist before the race

    def writer(first: int, last: int):
        def write(barrier: threading.Barrier) -> set[str]:
            store = open_store(pg_url, create=False)  # a connection pool of its own
            numbers = list(range(first, last))
            barrier.wait()
            new: set[str] = set()
            for start in range(0, len(numbers), 25):  # many small transactions, interleaved
                new |= set(upsert_items(store, [article(n) for n in numbers[start : start + 25]]).new_ids)
            return new

        return write

    results = run_threads({name: writer(*r) for name, r in ranges.items()})
    everything = {article(n).item_id for n in range(500)}
    assert count_items(open_store(pg_url)) == 500
    assert set().union(*results.values()) == everything  # nothing lost
    assert sum(map(len, results.values())) == 500  # each item new for exactly one writer
    for name, (a, b) in ranges.items():  # and only items it wrote
        assert results[name] <= {article(n).item_id for n in range(a, b)}


def test_one_lease_holder_among_racing_writers_and_takeover_after_expiry(pg_url):
    from flows.store import open_store
    from flows.locks.leases import lease_info, try_acquire

    open_store(pg_url).close()

    def contender(name: str):
        def race(barrier: threading.Barrier) -> bool:
            store = open_store(pg_url, create=False)
            barrier.wait()
            return try_acquire(store, "ingest", name, timedelta(minutes=1))

        return race

    for round_ in range(3):  # several races, one winner each
        names = [f"r{round_}-{i}" for i in range(6)]
        results = run_threads({n: contender(n) for n in names})
        winners = [n for n, won in results.items() if won]
        store = open_store(pg_url)
        if round_ == 0:
            assert len(winners) == 1
            first = winners[0]
        else:  # the first holder keeps it
            assert winners == []
        assert lease_info(store, "ingest").holder == first
    # an expired lease (its holder died) is taken over
    later = datetime.now(timezone.utc) + timedelta(minutes=2)
    assert try_acquire(store, "ingest", "successor", timedelta(minutes=1), now=later)
    assert lease_info(store, "ingest").holder == "successor"


@pytest.fixture
def pg_project(tmp_path, pg_url, feed_server):
    config = make_project(tmp_path / "project", feed_server)
    update_config(config, store_url=pg_url)
    return config


def test_two_ingests_at_once_on_postgres_one_runs_one_is_refused(pg_project, tmp_path, feed_server):
    from flows.config import load_settings
    from flows.store import open_store
    from flows.store.items import count_items, iter_items

    feed_server.delay = 3.0  # each ingest holds the lease for seconds: the two surely overlap
    try:
        results = run_together(tmp_path, {"first": ["ingest", str(pg_project)], "second": ["ingest", str(pg_project)]})
    finally:
        feed_server.delay = 0.0
    busy = [r for r in results.values() if "busy" in r]
    done = [r for r in results.values() if "busy" not in r]
    assert len(busy) == 1 and len(done) == 1, results
    assert "another ingest run is in progress" in busy[0]["busy"]
    assert done[0]["items_new"] == 5 + feed_server.distinct_items

    store = open_store(load_settings(pg_project).database_url)
    items = list(iter_items(store))
    assert count_items(store) == len(items) == 5 + feed_server.distinct_items
    assert len({i.url for i in items}) == len(items)  # no duplicates by URL either


def test_two_shards_of_one_ingest_write_overlapping_feeds_at_once(pg_project, tmp_path, feed_server):
    """Shards run side by side under their parent's lease; the articles both feeds carry are stored once."""
    from flows.config import load_settings
    from flows.locks.guard import lease
    from flows.store import open_store
    from flows.store.items import count_items

    store = open_store(load_settings(pg_project).database_url)
    with lease(store, "ingest", ttl=timedelta(minutes=2)) as parent:
        results = run_together(
            tmp_path,
            {
                "shard-a": ["shard", str(pg_project), feed_server.url("a"), parent],
                "shard-b": ["shard", str(pg_project), feed_server.url("b"), parent],
            },
        )
    reports = [r["sources"][0] for r in results.values()]
    assert all(r["status"] == "ok" for r in reports), reports
    assert sum(r["items_new"] for r in reports) == feed_server.distinct_items == count_items(store)
    assert sum(r["items_new"] + r["items_seen"] for r in reports) == 12
    assert all(r["classified"] == 0 for r in results.values())  # the parent classifies, once


def test_page_retries_on_postgres(pg_url):
    """The retry list's writes (insert once, back off, succeed) in PostgreSQL's dialect."""
    from flows.store import open_store
    from flows.store.items import upsert_items, utcnow
    from flows.store.page_retries import (
        due_page_retries,
        page_retry_failed,
        page_retry_succeeded,
        pending_page_retries,
        schedule_page_retries,
    )

    store = open_store(pg_url)
    item = article(1)
    upsert_items(store, [item])
    now = utcnow()
    for why in ("page not fetched: HTTP 503", "page not fetched: HTTP 503 again"):  # recorded once
        schedule_page_retries(store, [(item.item_id, item.url, why)], now)
    assert due_page_retries(store, now, 10) == []
    [due] = due_page_retries(store, now + timedelta(hours=2), 10)
    assert (due.attempts, due.url) == (1, item.url)
    assert page_retry_failed(store, due, "timeout", now, temporary=True) is False
    [due] = due_page_retries(store, now + timedelta(hours=7), 10)
    assert due.attempts == 2
    page_retry_succeeded(
        store, item.item_id, "The whole article.", {"extraction": "trafilatura", "extraction_note": None}
    )
    assert pending_page_retries(store) == 0
    with store.session() as s:
        from flows.store.schema import Item

        stored = s.get(Item, item.item_id)
        assert (stored.text, stored.word_count, stored.extraction) == ("The whole article.", 3, "trafilatura")
    store.close()
