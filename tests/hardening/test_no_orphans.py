"""A killed run leaves no process behind.

A real `uschina-digest ingest` reads a loopback feed whose article pages arrive slowly, so it is
still fetching and extracting (its worker pool running) when the test SIGKILLs the CLI process
alone, as the OOM killer or a cancelled deployment would. Every process the run started (the
fork server and the extraction workers) must then exit by itself within a few seconds. The test
finds them through /proc by session: the CLI runs in a session of its own, and a process keeps
its session when its parent dies and it is handed to init.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.faultserver import FaultServer

from .memwatch import need_proc
from .util import RELEVANT_TEXT, clean_env, kill_group, make_project, start_cli

PAGES = 12
CHUNKS = 8  # each page drips CHUNKS pieces ...
CHUNK_DELAY_S = 0.5  # ... this far apart: ~4 s a page, 2 at a time (one host)
GRACE_S = 5.0  # how long the run's processes get to notice and exit


def session_members(sid: int) -> dict[int, str]:
    """{pid: command line} of every live process in session `sid` (zombies excluded)."""
    members = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, _ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if int(session) == sid and state != "Z":
            members[int(entry)] = cmdline.strip()[:160]
    return members


def _slow_page(i: int):
    def chunks():
        yield (f"<html><head><title>Tariffs {i}</title></head><body><article><h1>Tariffs {i}</h1>").encode()
        for _ in range(CHUNKS):
            time.sleep(CHUNK_DELAY_S)
            yield f"<p>{RELEVANT_TEXT}</p>".encode()
        yield b"</article></body></html>"

    return chunks


def _feed(server: FaultServer) -> str:
    items = "".join(
        f"<item><title>Washington and Beijing on tariffs, part {i}</title>"
        f'<link>{server.url(f"/slow/{i}.html")}</link><guid isPermaLink="false">slow-{i}</guid>'
        f"<pubDate>Mon, 02 Feb 2026 10:00:00 GMT</pubDate><description>{RELEVANT_TEXT}</description></item>"
        for i in range(PAGES)
    )
    for i in range(PAGES):
        server.route(f"/slow/{i}.html", _slow_page(i), content_type="text/html; charset=utf-8")
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>slow</title>{items}</channel></rss>'
    return server.route("/feed.xml", body.encode(), content_type="application/rss+xml")


def test_a_sigkilled_ingest_leaves_no_process_behind(tmp_path: Path) -> None:
    need_proc()
    with FaultServer(feeds_dir=None, pages_dir=None, rewrite_links=False) as server:
        config = make_project(
            tmp_path,
            feeds=[{"url": _feed(server)}],
            fetch={"allow_private_addresses": True, "full_text": True, "read_timeout": 10, "respect_robots": False},
        )
        proc = start_cli("ingest", "--config", str(config), "-q", env=clean_env())
        try:
            # Working: the pool is up (fork server and workers) and pages are being fetched.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and proc.poll() is None:
                started = sum(n for path, n in server.requests.items() if path.startswith("/slow/"))
                if started >= 2 and len(session_members(proc.pid)) >= 3:
                    break
                time.sleep(0.1)
            assert proc.poll() is None, f"the ingest ended before the kill:\n{proc.stderr.read().decode()[-2000:]}"
            members = session_members(proc.pid)
            assert len(members) >= 3, f"no worker pool running at the kill: {members}"
            pages_before = sum(n for path, n in server.requests.items() if path.startswith("/slow/"))
            assert pages_before < PAGES, "every page was already requested: the kill would land on a finished run"

            os.kill(proc.pid, signal.SIGKILL)  # the CLI alone; its children must go by themselves
            proc.wait(timeout=10)
            left = session_members(proc.pid)
            deadline = time.monotonic() + GRACE_S
            while left and time.monotonic() < deadline:
                time.sleep(0.1)
                left = session_members(proc.pid)
            print(f"processes of the run at the kill: {len(members)}; left {GRACE_S:g} s after: {len(left)}")
            assert not left, (
                f"{len(left)} of the {len(members) - 1} processes the run started outlived it by {GRACE_S:g} s: {left}"
            )
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left, so a failure leaks nothing
            except ProcessLookupError:
                pass
            if proc.poll() is None:
                kill_group(proc)
            proc.stdout.close()
            proc.stderr.close()
