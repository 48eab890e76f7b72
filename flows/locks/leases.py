"""Leases in the `locks` table: named, owned, expiring — so a crashed holder never blocks forever.

One statement does the acquiring: `INSERT … ON CONFLICT (name) DO UPDATE … WHERE the lease expired
or is already ours`. The database decides the race (PostgreSQL's upsert locks the conflicting row,
SQLite serializes writers), so two processes on two machines can never both hold a lease.
Times are UTC from the callers' clocks: machines sharing a store must keep their clocks in sync
(NTP), and leases are minutes long, far above any sane skew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from flows.store.db import Store, with_retries
from flows.store.items import as_utc, utcnow
from flows.store.schema import Lock


@dataclass(frozen=True)
class LeaseInfo:
    name: str
    holder: str
    expires_at: datetime


def try_acquire(store: Store, name: str, holder: str, ttl: timedelta, now: datetime | None = None) -> bool:
    """Take the lease if it is free, expired or already ours (then it is extended); True if we hold it."""
    now = now or utcnow()
    stmt = store.insert(Lock).values(name=name, holder=holder, expires_at=now + ttl)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
        where=(Lock.expires_at < now) | (Lock.holder == holder),
    ).returning(Lock.name)  # a row back only if we inserted or took over (no rowcount on PostgreSQL ORM inserts)

    def attempt() -> bool:  # ours again if a retry follows a lost commit: safe to repeat
        with store.session() as s:
            return s.execute(stmt).first() is not None

    return with_retries(attempt, f"taking the {name} lease", store)


def take_over(
    store: Store, name: str, dead_holder: str, holder: str, ttl: timedelta, now: datetime | None = None
) -> bool:
    """Take a lease from a holder known to have died; only if that holder still has it (of two
    runs noticing the death at once, one gets it)."""
    now = now or utcnow()
    with store.session() as s:
        result = s.execute(
            update(Lock)
            .where(Lock.name == name, Lock.holder == dead_holder)
            .values(holder=holder, expires_at=now + ttl)
        )
        return result.rowcount == 1


def renew(store: Store, name: str, holder: str, ttl: timedelta, now: datetime | None = None) -> bool:
    """Extend our lease; False when it is no longer ours (it expired and someone took it over)."""
    now = now or utcnow()

    def attempt() -> bool:
        with store.session() as s:
            result = s.execute(
                update(Lock).where(Lock.name == name, Lock.holder == holder).values(expires_at=now + ttl)
            )
            return result.rowcount == 1

    return with_retries(attempt, f"renewing the {name} lease", store)


def release(store: Store, name: str, holder: str) -> bool:
    """Give the lease up (only if it is still ours); True if we released it."""

    def attempt() -> bool:
        with store.session() as s:
            return s.execute(delete(Lock).where(Lock.name == name, Lock.holder == holder)).rowcount == 1

    return with_retries(attempt, f"releasing the {name} lease", store)


def lease_info(store: Store, name: str) -> LeaseInfo | None:
    """Who holds a lease and until when; None if nobody ever took it or it was released."""
    with store.session() as s:
        row = s.execute(select(Lock.holder, Lock.expires_at).where(Lock.name == name)).first()
    if row is None:
        return None
    return LeaseInfo(name, row.holder, as_utc(row.expires_at))
