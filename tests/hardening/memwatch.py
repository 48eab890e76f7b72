"""Memory of a process tree over time, from /proc (Linux): the CLI and the workers it forks."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from tests.material import unavailable


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            out += [int(c) for c in text.split()]
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    """The process and all its descendants (fork-server workers included)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += _children(p)
    return pids


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(pid: int) -> float:
    return sum(rss_kb(p) for p in tree(pid)) / 1024


def need_proc() -> None:
    if not Path(f"/proc/{os.getpid()}/status").exists():
        unavailable("memory sampling needs Linux /proc")


class TreeSampler:
    """Samples a process tree's total RSS every `interval` s; calls `on_exceed` once past `limit_mb`."""

    def __init__(self, pid: int, interval: float = 0.05, limit_mb: float | None = None, on_exceed=None) -> None:
        self.pid = pid
        self.interval = interval
        self.limit_mb = limit_mb
        self.on_exceed = on_exceed
        self.samples: list[tuple[float, float]] = []
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="memwatch")

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            mb = tree_rss_mb(self.pid)
            if mb:
                self.samples.append((time.monotonic() - start, mb))
            if self.limit_mb and mb > self.limit_mb and not self.exceeded:
                self.exceeded = True
                if self.on_exceed:
                    self.on_exceed()
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak_mb(self) -> float:
        return max((mb for _, mb in self.samples), default=0.0)
