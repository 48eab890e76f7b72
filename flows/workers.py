"""A process pool for CPU-bound steps (feed parsing, full-text extraction) under an event loop.

Why processes: the work is pure-Python CPU (feedparser, trafilatura) that threads cannot run in
parallel, and trafilatura once segfaulted in threads; a crashed worker here costs its item a
fallback, not the run. Workers start with `forkserver`, so they do not inherit the event loop's
threads and sockets. The pool starts on first use, so a run with nothing new never starts it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import multiprocessing
import os
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


# Imported once by the fork server, so every worker (and every later pool in this process)
# starts with them loaded: a pool costs a fork, not a second of imports.
PRELOAD = ["feedparser", "trafilatura", "flows.extract", "flows.sources.feedparse"]


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
                self.release()          # the slot was handed over just as we were cancelled
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():       # skip waiters that were cancelled meanwhile
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
        context.set_forkserver_preload(PRELOAD)   # no effect once the fork server runs
        pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
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

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float,
                  passthrough: tuple[type[Exception], ...] = (), priority: int = 0) -> Any:
        """fn(*args) in a worker. Exceptions of the `passthrough` types are raised as they are;
        anything else that goes wrong (crash, timeout, another exception) is a WorkerError.
        Jobs waiting for a worker start in order of `priority` (highest first), then arrival."""
        await self._slots.acquire(priority)
        try:
            return await self._run(fn, args, timeout, passthrough)
        finally:
            self._slots.release()

    async def _run(self, fn: Callable[..., Any], args: tuple, timeout: float,
                   passthrough: tuple[type[Exception], ...]) -> Any:
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
