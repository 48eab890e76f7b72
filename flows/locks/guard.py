"""The concurrency guard: two ingests (or two digests) never overlap, however they were started.

A run takes a named lease in the store (`flows.locks.leases`) for as long as it works: from the
CLI, a scheduled deployment, the UI or another machine, the same row decides. A heartbeat thread
keeps the lease alive while the holder works; if the holder dies, the lease expires after `ttl`
and the next run takes it over. Child runs of a fanned-out ingest share their parent's lease by
passing its holder token (`inherit=True`), so shards run side by side but never beside another
ingest.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Iterator

from flows.store import Store
from flows.locks.leases import LeaseInfo, lease_info, release, renew, take_over, try_acquire

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(minutes=5)

_label: ContextVar[str | None] = ContextVar("lease_label", default=None)
_held: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("held_leases", default=())


class LeaseBusy(RuntimeError):
    """Another run holds the lease; the message says who and until when."""

    def __init__(self, name: str, info: LeaseInfo | None):
        self.name, self.info = name, info
        who = f" by {info.holder} until {info.expires_at:%Y-%m-%d %H:%M:%S} UTC" if info else ""
        super().__init__(f"another {name} run is in progress (lease held{who}); not starting a second one")


class LeaseLost(RuntimeError):
    """The lease a child run was given is no longer held by its parent."""


@contextmanager
def labelled(label: str) -> Iterator[None]:
    """Name the runs started in this block in lease holders (e.g. the Prefect flow run), for messages."""
    token = _label.set(label)
    try:
        yield
    finally:
        _label.reset(token)


_HOLDER_PROCESS = re.compile(r"(?:^| on )([^\s:]+):(\d+) #[0-9a-f]{8}$")


def holder_died(holder: str) -> bool:
    """Whether a lease holder was a process on this machine that no longer runs (SIGKILL, OOM,
    a crash): its lease need not be waited out. Holders elsewhere, or alive, are waited for."""
    match = _HOLDER_PROCESS.search(holder)
    if match is None or match.group(1) != socket.gethostname() or int(match.group(2)) == os.getpid():
        return False
    try:
        os.kill(int(match.group(2)), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def new_holder() -> str:
    """A holder token unique to this run: its label, host and process, and a random suffix."""
    label = _label.get()
    where = f"{socket.gethostname()}:{os.getpid()}"
    return f"{label} on {where} #{uuid.uuid4().hex[:8]}" if label else f"{where} #{uuid.uuid4().hex[:8]}"


def held(name: str) -> str | None:
    """The holder token of a lease this context holds (for handing it to child runs), else None."""
    return dict(_held.get()).get(name)


class _Heartbeat(threading.Thread):
    def __init__(self, store: Store, name: str, holder: str, ttl: timedelta):
        super().__init__(name=f"lease-{name}", daemon=True)
        self.store, self.lease_name, self.holder, self.ttl = store, name, holder, ttl
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.ttl.total_seconds() / 3):
            try:
                if not renew(self.store, self.lease_name, self.holder, self.ttl):
                    self.lost = True
                    log.error("lost the %s lease (%s): another run may have started", self.lease_name, self.holder)
                    return
            except Exception as e:  # a database blip: try again at the next beat, well before expiry
                log.warning("could not renew the %s lease: %s", self.lease_name, e)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


@contextmanager
def lease(
    store: Store,
    name: str,
    *,
    ttl: timedelta = DEFAULT_TTL,
    wait: float = 0.0,
    poll: float = 1.0,
    holder: str | None = None,
    inherit: bool = False,
) -> Iterator[str]:
    """Hold the lease `name` for the block; yields the holder token.

    Waits up to `wait` seconds for a busy lease, then raises `LeaseBusy`. With `inherit=True` the
    block joins the lease `holder` already holds (a parent run's) instead of taking a new one, and
    leaves it to the parent to release; `LeaseLost` if the parent no longer holds it.
    """
    if inherit:
        if not holder:
            raise ValueError("inherit=True needs the parent's holder token")
        if not renew(store, name, holder, ttl):
            raise LeaseLost(f"the {name} lease {holder!r} handed to this run is no longer held")
    else:
        holder = holder or new_holder()
        deadline = time.monotonic() + wait
        while not try_acquire(store, name, holder, ttl):
            info = lease_info(store, name)
            if info is not None and holder_died(info.holder) and take_over(store, name, info.holder, holder, ttl):
                log.warning("took over the %s lease from %s, which no longer runs", name, info.holder)
                break
            if time.monotonic() >= deadline:
                raise LeaseBusy(name, lease_info(store, name))
            time.sleep(poll)
    heartbeat = _Heartbeat(store, name, holder, ttl)
    heartbeat.start()
    token = _held.set(_held.get() + ((name, holder),))
    log.debug("holding the %s lease as %s", name, holder)
    try:
        yield holder
    finally:
        _held.reset(token)
        heartbeat.stop()
        if not inherit:
            release(store, name, holder)
