"""The worker pool survives crashed, stuck and failing jobs."""

from __future__ import annotations

import asyncio
import time

import pytest

from feedtestkit import crash_worker, raise_value_error, sleep_then_return
from flows.workers import CpuPool, WorkerError


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
