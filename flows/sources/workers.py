"""A process pool for CPU-bound steps (feed parsing, full-text extraction) under an event loop.

Why processes: the work is pure-Python CPU (feedparser, trafilatura) that threads cannot run in
parallel, and trafilatura once segfaulted in threads; a crashed worker here costs its item a
fallback, not the run. Workers start with `forkserver`, so they do not inherit the event loop's
threads and sockets. The pool starts on first use, so a run with nothing new never starts it.

A run killed with SIGKILL (the OOM killer, a cancelled deployment) cannot shut its pool down, so
every worker watches the process that owns the pool and exits when it dies (`die_with_owner`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import ctypes
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

MAX_RESTARTS = 3


class WorkerError(Exception):
    """A job that did not finish in its worker (crash, timeout, or an exception), in one line."""


def available_cpus() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return os.cpu_count() or 1


PR_SET_PDEATHSIG = 1  # linux/prctl.h
OWNER_POLL_S = 1.0  # the owner check's period where no pidfd can be had


def die_with_owner(owner: int) -> None:
    """Pool initializer: end this worker when process `owner` (the pool's owner) dies.

    Why not PR_SET_PDEATHSIG alone: a `forkserver` worker's parent is the fork server, not the
    owner, and the fork server only exits once every worker has closed its end of the fork server's
    "alive" pipe, so after a SIGKILL of the owner the fork server and the workers wait on each
    other for ever. So the worker watches the owner itself: a pidfd (Linux >= 5.3) becomes readable
    when the owner exits, waited on by a thread that costs nothing until then (elsewhere a check
    every `OWNER_POLL_S`). An owner that died before this ran is caught by `pidfd_open` (or the
    first check) failing. PR_SET_PDEATHSIG is set as well, so a worker also goes with its fork
    server. With the workers gone, the fork server and multiprocessing's resource tracker see
    their pipes close and exit too.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    try:
        pidfd = os.pidfd_open(owner)
    except ProcessLookupError:
        os._exit(1)  # the owner is already gone
    except (AttributeError, OSError):
        pidfd = None
    threading.Thread(target=_watch_owner, args=(owner, pidfd), name="owner-watch", daemon=True).start()


def _watch_owner(owner: int, pidfd: int | None) -> None:
    if pidfd is not None:
        select.select([pidfd], [], [])
        os._exit(1)
    while True:
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # alive, under another user (a reused pid would be too: rare)
            pass
        time.sleep(OWNER_POLL_S)


# Imported once by the fork server, so every worker (and every later pool in this process)
# starts with them loaded: a pool costs a fork, not a second of imports.
PRELOAD = ["feedparser", "trafilatura", "flows.sources.extract", "flows.sources.feedparse"]


class PrioritySlots:
    """A semaphore whose waiters are served highest priority first, then in arrival order.

    Lets work that unblocks other work (a feed's parse, the pages of the site with the most left
    to fetch) overtake a queue of ordinary jobs, so a run does not end with one site's pages
    trickling in after everything else is done.
    """

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiters: list[tuple[int, int, asyncio.Future]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int = 0) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed over just as we were cancelled
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():  # skip waiters that were cancelled meanwhile
                future.set_result(None)
                return
        self._free += 1


class CpuPool:
    """`await pool.run(fn, *args, timeout=…)`; `close()` when done (or use `with`)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or available_cpus()
        self._pool: ProcessPoolExecutor | None = None
        self.restarts = 0
        # Jobs wait here, not in the executor's queue: a job's timeout then measures its own
        # run, not the backlog ahead of it. Two per worker keeps every worker fed.
        self._slots = PrioritySlots(2 * self.workers)
        self._starting = asyncio.Lock()

    def __enter__(self) -> "CpuPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> ProcessPoolExecutor:
        """A new executor with every worker already running (blocks: call it in a thread)."""
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # no effect once the fork server runs
        pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context, initializer=die_with_owner, initargs=(os.getpid(),)
        )
        for future in [pool.submit(available_cpus) for _ in range(self.workers)]:
            future.result()
        return pool

    async def _executor(self) -> ProcessPoolExecutor:
        # Starting workers (and, the first time, the fork server) takes a second or two of
        # blocking calls; in a thread, the event loop keeps fetching meanwhile.
        async with self._starting:
            if self._pool is None:
                self._pool = await asyncio.to_thread(self._start)
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor, kill: bool) -> None:
        """Drop a broken or stuck pool; the next job starts a fresh one."""
        if self._pool is not pool:
            return
        self._pool = None
        self.restarts += 1
        if kill:
            # A job stuck past its timeout cannot be cancelled; its worker must go.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        timeout: float,
        passthrough: tuple[type[Exception], ...] = (),
        priority: int = 0,
    ) -> Any:
        """fn(*args) in a worker. Exceptions of the `passthrough` types are raised as they are;
        anything else that goes wrong (crash, timeout, another exception) is a WorkerError.
        Jobs waiting for a worker start in order of `priority` (highest first), then arrival."""
        await self._slots.acquire(priority)
        try:
            return await self._run(fn, args, timeout, passthrough)
        finally:
            self._slots.release()

    async def _run(
        self, fn: Callable[..., Any], args: tuple, timeout: float, passthrough: tuple[type[Exception], ...]
    ) -> Any:
        if self.restarts > MAX_RESTARTS:
            raise WorkerError("worker pool disabled after repeated crashes")
        pool = await self._executor()
        loop = asyncio.get_running_loop()
        try:
            # The timeout includes at most one job ahead of this one (two slots per worker).
            return await asyncio.wait_for(loop.run_in_executor(pool, fn, *args), timeout)
        except BrokenProcessPool:
            self._discard(pool, kill=False)
            raise WorkerError("worker process crashed") from None
        except TimeoutError:
            self._discard(pool, kill=True)
            raise WorkerError(f"took longer than {timeout:g}s") from None
        except passthrough:
            raise
        except Exception as exc:  # an exception raised by fn inside the worker
            raise WorkerError(f"{type(exc).__name__}: {str(exc)[:300]}") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
