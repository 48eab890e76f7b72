"""The store locked or down: SQLite held by another writer, PostgreSQL restarted mid-run.

Writes are retried with growing pauses; a store that stays unavailable gives one clear error
naming the store, and a write that did not happen left nothing half-written.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import main
from flows.config import load_settings
from flows.records import Article
from flows.pipeline import IngestOptions, run_ingest
from flows.store import StoreUnavailable, db, open_store
from flows.store.items import count_items, upsert_items

from tests.pgcluster import Cluster
from .util import make_project


@pytest.fixture
def quick_retries(monkeypatch):
    """Five tries 0.1–0.8 s apart, so a test sees the whole retry path in a couple of seconds."""
    monkeypatch.setattr(db, "RETRY_FIRST_DELAY_S", 0.1)
    monkeypatch.setattr(db, "RETRY_MAX_DELAY_S", 0.8)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    db_path = tmp_path / "data" / "uschina-digest.sqlite3"
    config = make_project(tmp_path, seeds=True, store_url=f"sqlite:///{db_path}?timeout=0.2")
    open_store(f"sqlite:///{db_path}").close()  # schema in place before anyone locks it
    return config


@contextmanager
def write_lock(config: Path, hold_s: float | None = None):
    """Another connection holding the SQLite write lock (for `hold_s`, or until the block ends)."""
    path = config.parent.parent / "data" / "uschina-digest.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO locks(name, holder, expires_at) VALUES ('test', 'test', '2999-01-01')")
    timer = threading.Timer(hold_s, conn.rollback) if hold_s else None
    if timer:
        timer.start()
    try:
        yield
    finally:
        if timer:
            timer.join()
        if conn.in_transaction:
            conn.rollback()
        conn.close()


def _items(config: Path) -> int:
    with sqlite3.connect(config.parent.parent / "data" / "uschina-digest.sqlite3") as conn:
        return conn.execute("select count(*) from items").fetchone()[0]


def test_a_briefly_locked_store_is_waited_for(project: Path, quick_retries, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="flows.store.db")
    with write_lock(project, hold_s=1.0):
        report = run_ingest(load_settings(project), IngestOptions(sources="seeds"))
    assert report.items_new == 5 and _items(project) == 5
    assert any("store unavailable" in r.message and "locked" in r.message for r in caplog.records)


def test_a_store_that_stays_locked_gives_one_clear_error_and_writes_nothing(project: Path, quick_retries) -> None:
    start = time.monotonic()
    with write_lock(project):
        with pytest.raises(StoreUnavailable) as err:
            run_ingest(load_settings(project), IngestOptions(sources="seeds"))
    assert time.monotonic() - start < 15
    message = str(err.value)
    assert "uschina-digest.sqlite3" in message and "locked" in message and "\n" not in message
    assert _items(project) == 0  # the batch rolled back whole
    assert run_ingest(load_settings(project), IngestOptions(sources="seeds")).items_new == 5
    assert _items(project) == 5


def test_the_cli_reports_a_locked_store_in_one_line(project: Path, quick_retries) -> None:
    with write_lock(project):
        result = CliRunner().invoke(main, ["ingest", "--config", str(project), "--sources", "seeds", "-q"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: the store") and "locked" in lines[0], result.output
    assert "Traceback" not in result.output


def test_a_permanent_store_error_is_not_retried(tmp_path: Path, quick_retries) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE items")
    start = time.monotonic()
    with pytest.raises(Exception) as err:
        upsert_items(store, [Article(key="k", source="s", source_kind="feed", url="u", title="t", text="x")])
    assert not isinstance(err.value, StoreUnavailable) and "no such table" in str(err.value)
    assert time.monotonic() - start < 1.0


# ---------------------------------------------------------------- PostgreSQL restarted mid-run


@pytest.fixture(scope="module")
def postgres():
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


def _batch(n: int, size: int) -> list[Article]:
    return [
        Article(
            key=f"pg-{n}-{i}",
            source="pg",
            source_kind="feed",
            url=f"http://127.0.0.1/{n}/{i}",
            title=f"Item {n}.{i} on Taiwan",
            text="Beijing and Washington talked. " * 20,
        )
        for i in range(size)
    ]


def test_postgres_restarted_mid_run_loses_no_item_and_stores_none_twice(
    postgres: Cluster, quick_retries, monkeypatch
) -> None:
    monkeypatch.setattr(db, "RETRY_MAX_DELAY_S", 2.0)  # a restart takes a second or two
    store = open_store(postgres.url())
    batches, size, results, errors = 40, 25, [], []

    def writer() -> None:
        for n in range(batches):
            try:
                results.append(upsert_items(store, _batch(n, size)))
            except Exception as e:  # recorded, asserted below
                errors.append(f"batch {n}: {type(e).__name__}: {e}")
            time.sleep(0.05)

    thread = threading.Thread(target=writer)
    thread.start()
    while len(results) < 5 and thread.is_alive():
        time.sleep(0.02)
    postgres.restart()
    restarted_after = len(results)
    thread.join(timeout=120)
    assert not errors, errors
    assert restarted_after < batches, "the restart came after the run; it proves nothing"
    assert len(results) == batches
    assert count_items(store) == batches * size
    # Every item reported once as new (a batch whose commit was lost may re-report it as seen).
    new = [i for r in results for i in r.new_ids]
    assert len(new) == len(set(new)) and len(new) <= batches * size
    store.close()
