"""Engine set-up and the `Store` handle that every repository function takes."""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from flows.store.schema import Base


@dataclass
class Store:
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def insert(self, table):
        """`INSERT` in this store's dialect, which offers `on_conflict_do_nothing/update` (the
        idempotent writes every repository here relies on)."""
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return (pg_insert if self.dialect == "postgresql" else sqlite_insert)(table)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_BUSY_TIMEOUT_S = 30.0
RETRY_ATTEMPTS = 5
RETRY_FIRST_DELAY_S = 0.5
RETRY_MAX_DELAY_S = 8.0


class StoreUnavailable(Exception):
    """The store stayed locked or unreachable through every retry; the message says which store."""


def is_transient(exc: BaseException) -> bool:
    """A failure that waiting can cure: SQLite busy or locked, a PostgreSQL connection dropped or
    refused (a restart), a serialization failure or deadlock. Nothing was written: the unit of
    work rolled back, so running it again is safe."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError) and not isinstance(exc.orig, sqlite3.Error):
        return True  # PostgreSQL: refused, dropped, shutting down, out of connections
    message = str(exc.orig).lower()
    if "database is locked" in message or "database table is locked" in message or "busy" in message:
        return True
    code = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    return code.startswith(("08", "57P")) or code in ("40001", "40P01")


def with_retries(work: Callable[[], T], what: str, store: "Store | None" = None) -> T:
    """Run a unit of work, again with growing pauses while the store is momentarily unavailable;
    `StoreUnavailable` (one clear line) once it stays so. Only for idempotent units of work."""
    delay = RETRY_FIRST_DELAY_S
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            return work()
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            reason = " ".join(str(exc.orig).split())[:200]
            if attempt == RETRY_ATTEMPTS:
                where = f" {store.engine.url.render_as_string(hide_password=True)}" if store else ""
                raise StoreUnavailable(
                    f"the store{where} stayed unavailable through {attempt} tries ({reason}); "
                    f"{what}: nothing written, run again later"
                ) from None
            log.warning(
                "store unavailable during %s (%s); try %d of %d in %.1f s",
                what,
                reason,
                attempt + 1,
                RETRY_ATTEMPTS,
                delay,
            )
            time.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, RETRY_MAX_DELAY_S)
    raise AssertionError("unreachable")


def _busy_timeout_s(url: str) -> float:
    """`?timeout=SECONDS` in a SQLite URL (as pysqlite reads it), else 30 s."""
    values = parse_qs(urlsplit(url).query).get("timeout")
    try:
        return float(values[0]) if values else DEFAULT_BUSY_TIMEOUT_S
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT_S


def _sqlite_pragmas(busy_timeout_s: float) -> Callable:
    """WAL with a busy timeout, so a reader never blocks the writer.

    The story index takes tens of thousands of random-key inserts per batch. 16 KB pages (new
    stores only), a 64 MB page cache, reads through a 256 MB memory map, and a checkpoint every
    16,384 pages of log (not every 1,000) keep each commit from rewriting the same pages again and
    again: in the 100k-item benchmark, commits and checkpoints were most of the growth in cost
    per item.
    """

    def on_connect(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA page_size=16384")  # a new store only: fixed once the file has tables
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA wal_autocheckpoint=16384")
        cur.execute("PRAGMA mmap_size=268435456")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.close()

    return on_connect


# Any constant; names the advisory lock that serializes schema creation on PostgreSQL.
_SCHEMA_LOCK_KEY = 0x75736364


def create_tables(engine: Engine) -> None:
    """Create missing tables. On PostgreSQL, processes starting together (two workers, two ingests)
    would race in CREATE TABLE and fail on the catalogue's unique index, so they take turns.
    The full-text index is made (and filled, for a store that predates it) in the same turn."""
    from sqlalchemy import text

    from flows.store.search_index import ensure_search_index

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        Base.metadata.create_all(conn)
        ensure_search_index(conn)


def open_store(url: str, create: bool = True) -> Store:
    """Open (and by default create) the store at a SQLAlchemy URL.

    SQLite gets WAL, a busy timeout (30 s, or `?timeout=` in the URL) and its parent folder
    created, so a fresh checkout works with no set-up; other databases are used as given.
    """
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///").split("?", 1)[0]).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict = {"future": True}
    if url.startswith("postgresql"):
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=5)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(_busy_timeout_s(url)))
    if create:
        create_tables(engine)
    return Store(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
