"""The worker pool survives crashed, stuck and failing jobs."""

from __future__ import annotations

import asyncio
import time

import pytest

from feedtestkit import crash_worker, raise_value_error, sleep_then_return
from flows.sources.workers import CpuPool, WorkerError


def test_crash_timeout_and_errors_become_worker_errors_and_the_pool_recovers():
    async def go():
        with CpuPool(workers=2) as pool:
            assert await pool.run(sleep_then_return, 0, "warm", timeout=30) == "warm"
            with pytest.raises(WorkerError, match="crashed"):
                await pool.run(crash_worker, timeout=30)
            assert await pool.run(sleep_then_return, 0, "after crash", timeout=30) == "after crash"
            started = time.monotonic()
            with pytest.raises(WorkerError, match="longer than 0.5s"):
                await pool.run(sleep_then_return, 30, "never", timeout=0.5)
            assert time.monotonic() - started < 5
            assert await pool.run(sleep_then_return, 0, "after timeout", timeout=30) == "after timeout"
            with pytest.raises(WorkerError, match="ValueError: bad input in the worker"):
                await pool.run(raise_value_error, timeout=30)
            with pytest.raises(ValueError):
                await pool.run(raise_value_error, timeout=30, passthrough=(ValueError,))
            return pool.restarts

    assert asyncio.run(go()) == 2


def test_queued_jobs_do_not_time_out_while_waiting():
    async def go():
        with CpuPool(workers=1) as pool:
            # Six 0.3 s jobs on one worker take ~1.8 s; each one's 1 s timeout covers its own run.
            return await asyncio.gather(*(pool.run(sleep_then_return, 0.3, str(i), timeout=1.0) for i in range(6)))

    assert asyncio.run(go()) == [str(i) for i in range(6)]


def test_waiting_jobs_start_by_priority_then_in_arrival_order():
    from flows.sources.workers import PrioritySlots

    async def go():
        slots = PrioritySlots(1)
        await slots.acquire()  # the only slot is taken
        started: list[str] = []

        async def job(name: str, priority: int) -> None:
            await slots.acquire(priority)
            started.append(name)
            await asyncio.sleep(0)
            slots.release()

        waiting = [
            asyncio.create_task(job(name, p))
            for name, p in (("low-1", 0), ("high", 5), ("low-2", 0), ("middle", 2), ("gone", 9))
        ]
        await asyncio.sleep(0)
        waiting[-1].cancel()  # a cancelled waiter is skipped, its turn not lost
        await asyncio.sleep(0)
        slots.release()
        await asyncio.gather(*waiting[:-1])
        # Nothing is left waiting, so the next acquire succeeds at once.
        await asyncio.wait_for(slots.acquire(), 1)
        return started

    assert asyncio.run(go()) == ["high", "middle", "low-1", "low-2"]


def test_a_pool_job_with_higher_priority_overtakes_the_queue():
    async def go():
        with CpuPool(workers=1) as pool:  # two slots: one running, one queued in the executor
            await pool.run(sleep_then_return, 0, "warm", timeout=30)
            done: list[str] = []

            async def job(name: str, priority: int) -> None:
                done.append(await pool.run(sleep_then_return, 0.2, name, timeout=30, priority=priority))

            first = [asyncio.create_task(job(f"early-{i}", 0)) for i in range(2)]  # take both slots
            await asyncio.sleep(0.05)
            rest = [asyncio.create_task(job(f"queued-{i}", 0)) for i in range(3)]
            await asyncio.sleep(0.05)
            urgent = asyncio.create_task(job("urgent", 10))
            await asyncio.gather(*first, *rest, urgent)
            return done

    done = asyncio.run(go())
    assert done[:2] == ["early-0", "early-1"] and done[2] == "urgent"
