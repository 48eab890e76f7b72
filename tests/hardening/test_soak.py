"""The soak (`make soak`, outside the default suite): 200 ingest cycles over the fixture feeds
served on loopback by the fault server, faults at random for most cycles, then a clean phase.

One long-lived ingest process runs every cycle (as the scheduled service would); every
`SEND_EVERY` cycles it also writes a digest of a new window and e-mails it to three readers
through a real SMTP server that answers "451 try again" at random while faults are on. Reported:
cycles, faults injected by kind, feed failures survived, items expected (an uninterrupted clean
ingest of the same feeds) against items stored (equal once the faults stop), sends expected
(digests × readers) against messages received, memory over time (no growth), the run-time
distribution, and items whose text fell back to the feed's because a page fetch failed.
Bounded: it stops by itself within `SOAK_BUDGET_S` whatever happens.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import sqlite3
import statistics
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.faultserver import FaultServer

from .memwatch import TreeSampler, need_proc
from .smtp import Handler, serve
from .util import ROOT, clean_env, make_project, need_fixtures, run_cli

CYCLES = int(os.environ.get("SOAK_CYCLES", "200"))
CLEAN_CYCLES = max(5, CYCLES // 10)  # the last cycles run with no faults
FAULT_RATE = float(os.environ.get("SOAK_FAULT_RATE", "0.25"))
SOAK_BUDGET_S = float(os.environ.get("SOAK_BUDGET_S", str(18 * 60)))
N_FEEDS = int(os.environ.get("SOAK_FEEDS", "30"))
SEED = int(os.environ.get("SOAK_SEED", str(random.randrange(1_000_000))))
SEND_EVERY = 10
READERS = ["ann@example.org", "bo@example.org", "cy@example.org"]
WINDOW_BASE = datetime(2030, 1, 1, tzinfo=timezone.utc)  # each send: its own custom window
RESULTS = ROOT / "benchmarks" / "results"


def _small_feeds(folder: Path, n: int) -> list[str]:
    """The n smallest fixture feeds (quick cycles; still ~400 real entries of every format)."""
    return [p.name for p in sorted(folder.glob("*.feed"), key=lambda p: p.stat().st_size)[:n]]


def _stored(root: Path) -> dict[str, str]:
    with sqlite3.connect(root / "data" / "uschina-digest.sqlite3") as db:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        return dict(db.execute("select id, extraction from items"))


def _describe(root: Path, ids: set[str]) -> list[str]:
    """A few stored items, for a failure message: key, title, feed."""
    with sqlite3.connect(root / "data" / "uschina-digest.sqlite3") as db:
        rows = (
            db.execute(
                f"select key, title, feed_url from items where id in ({','.join('?' * len(ids))})", sorted(ids)[:5]
            ).fetchall()
            if ids
            else []
        )
    return [f"{k[:80]} | {t[:60]} | {(f or '').rsplit('/', 1)[-1]}" for k, t, f in rows]


def _percentiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return {
        "min": values[0],
        "p50": pick(0.5),
        "p90": pick(0.9),
        "p99": pick(0.99),
        "max": values[-1],
        "mean": statistics.fmean(values),
    }


CYCLE_TIMEOUT_S = 300  # one ingest taking longer than this is a hang


def _reader(stream) -> "queue.Queue[str]":
    """Lines of a stream through a queue, so a hung worker cannot hang the soak."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.mark.soak
@pytest.mark.timeout(int(SOAK_BUDGET_S + CYCLE_TIMEOUT_S + 600))
def test_soak(tmp_path: Path, capsys) -> None:
    need_proc()
    feeds_dir = need_fixtures("feeds")
    started = time.monotonic()
    names = _small_feeds(feeds_dir, N_FEEDS)
    fetch = {"allow_private_addresses": True, "connect_timeout": 1, "read_timeout": 1, "full_text": True}
    mailer = Handler(seed=SEED)
    smtp = serve(mailer)
    email_cfg = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "security": "none",
        "timeout": 5,
        "retries": 2,
        "retry_backoff": 0.1,
        "recipients": [{"address": a} for a in READERS],
    }
    with FaultServer(seed=SEED, rate=0.0, hang_s=1.5, drip_s=0.5) as server:
        feeds = [{"url": u} for u in server.feed_urls(names)]
        # The items an uninterrupted, fault-free ingest stores.
        ref_config = make_project(tmp_path / "reference", feeds=feeds, fetch=fetch)
        code, _, err, _ = run_cli("ingest", "--config", str(ref_config), "--force", "-q", timeout=900)
        assert code == 0, err[-3000:]
        expected = _stored(tmp_path / "reference")
        reference_s = time.monotonic() - started

        config = make_project(tmp_path / "soak", feeds=feeds, fetch=fetch, email=email_cfg)
        worker = subprocess.Popen(
            [os.sys.executable, "-m", "tests.hardening.soak_worker", str(config)],
            cwd=ROOT,
            env=clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        cycles, crashed, hung, sends = [], [], [], []
        tree = TreeSampler(worker.pid, interval=0.5).__enter__()  # the process and its workers
        lines = _reader(worker.stdout)
        RESULTS.mkdir(parents=True, exist_ok=True)
        progress = (RESULTS / "soak-progress.jsonl").open("w")
        server.set_rate(FAULT_RATE)
        fault_phase_end = CYCLES - CLEAN_CYCLES

        def ask(command: str, cycle: int) -> dict | None:
            """One command to the worker and its one-line JSON answer; None (recorded) if it hung or died."""
            worker.stdin.write(command + "\n")
            worker.stdin.flush()
            try:
                line = lines.get(timeout=CYCLE_TIMEOUT_S)
            except queue.Empty:
                hung.append(cycle)
                return None
            if not line:
                crashed.append(cycle)
                return None
            return json.loads(line)

        try:
            for cycle in range(1, CYCLES + 1):
                over_budget = time.monotonic() - started > SOAK_BUDGET_S - 60
                if cycle > fault_phase_end or over_budget:
                    server.set_rate(0.0)
                    mailer.fault_rate = 0.0
                elif cycle == 1:
                    mailer.fault_rate = FAULT_RATE
                if over_budget and cycle <= fault_phase_end:
                    fault_phase_end = cycle - 1  # cut the fault phase short
                injected = server.faults_injected
                result = ask("ingest", cycle)
                if result is None:
                    break
                result.update(cycle=cycle, faults=server.rate > 0, injected=server.faults_injected - injected)
                cycles.append(result)
                progress.write(json.dumps({k: v for k, v in result.items() if k != "report"}) + "\n")
                progress.flush()
                last = cycle == CYCLES or (over_budget and cycle >= fault_phase_end + CLEAN_CYCLES)
                if cycle % SEND_EVERY == 0 or last:
                    until = WINDOW_BASE + timedelta(minutes=len(sends) + 1)
                    sent = ask(f"digest {(until - timedelta(days=3650)).isoformat()} {until.isoformat()}", cycle)
                    if sent is None:
                        break
                    sends.append(
                        {
                            "cycle": cycle,
                            "seconds": sent["seconds"],
                            "error": sent["error"],
                            "id": (sent["report"] or {}).get("id"),
                            "statuses": [d["status"] for d in (sent["report"] or {}).get("deliveries", [])],
                        }
                    )
                if over_budget and cycle >= fault_phase_end + CLEAN_CYCLES:
                    break
        finally:
            tree.__exit__(None, None, None)
            progress.close()
            if worker.poll() is None and not hung:
                worker.stdin.write("quit\n")
                worker.stdin.flush()
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    pass
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)  # the process group this test started
                worker.wait(timeout=30)
        stored = _stored(tmp_path / "soak")
        unexpected = _describe(tmp_path / "soak", set(stored) - set(expected))
        faults = dict(server.stats)
    smtp.stop()
    received = mailer.received_pairs()
    digest_ids = {s["id"] for s in sends if s["id"]}

    failures = sum(1 for c in cycles for s in (c["report"] or {}).get("sources", []) if s["status"] == "error")
    run_errors = [c for c in cycles if c["error"]]
    fault_cycles = [c for c in cycles if c["faults"]]
    rss = [c["rss_mb"] for c in cycles]
    early = statistics.median(rss[10:30]) if len(rss) >= 30 else rss[0]
    late = statistics.median(rss[-20:])
    degraded = sorted(i for i, how in stored.items() if how == "feed" and expected.get(i) == "trafilatura")
    summary = {
        "seed": SEED,
        "cycles": len(cycles),
        "fault_cycles": len(fault_cycles),
        "clean_cycles": len(cycles) - len(fault_cycles),
        "fault_rate": FAULT_RATE,
        "feeds": len(names),
        "faults_injected": sum(faults.values()),
        "faults_by_kind": faults,
        "feed_failures_survived": failures,
        "run_errors": len(run_errors),
        "worker_crashed_at": crashed,
        "worker_hung_at": hung,
        "items_expected": len(expected),
        "items_stored": len(stored),
        "items_missing": len(set(expected) - set(stored)),
        "items_unexpected": len(set(stored) - set(expected)),
        "unexpected_sample": unexpected,
        "items_text_degraded_to_feed": len(degraded),
        "digests_sent": len(digest_ids),
        "sends_expected": len(digest_ids) * len(READERS),
        "sends_made": len(received),
        "messages_received": sum(received.values()),
        "duplicate_messages": sum(n - 1 for n in received.values()),
        "smtp_faults_injected": mailer.faults,
        "send_errors": [s for s in sends if s["error"]][:3],
        "rss_mb": {
            "first": rss[0],
            "early_median": early,
            "late_median": late,
            "peak": max(rss),
            "tree_peak_between_cycles": max(c["tree_mb"] for c in cycles),
            "tree_peak_during_cycles": tree.peak_mb,
            "tree_early_median": statistics.median(mb for t, mb in tree.samples[: len(tree.samples) // 5]),
            "tree_late_median": statistics.median(mb for t, mb in tree.samples[-len(tree.samples) // 5 :]),
            "samples_every_10": [round(r) for r in rss[::10]],
        },
        "cycle_seconds": _percentiles([c["seconds"] for c in cycles]),
        "fault_cycle_seconds": _percentiles([c["seconds"] for c in fault_cycles]) if fault_cycles else None,
        "reference_ingest_s": reference_s,
        "total_s": time.monotonic() - started,
    }
    (RESULTS / "soak.json").write_text(json.dumps(summary, indent=2) + "\n")
    with capsys.disabled():
        print("\nsoak:", json.dumps(summary, indent=2))

    assert not crashed, f"the ingest process died at cycle {crashed[0]}"
    assert not hung, f"an ingest hung for over {CYCLE_TIMEOUT_S} s at cycle {hung[0]}"
    assert not run_errors, f"{len(run_errors)} runs raised: {run_errors[0]['error']}"
    assert len(cycles) >= min(CYCLES, 50)
    assert set(stored) == set(expected), (
        f"after {summary['clean_cycles']} clean cycles: {summary['items_missing']} "
        f"missing, {summary['items_unexpected']} unexpected: {unexpected}"
    )
    assert not summary["send_errors"], summary["send_errors"]
    assert summary["sends_made"] == summary["sends_expected"] and summary["duplicate_messages"] == 0
    assert late <= early * 1.15 + 30, f"memory grew from {early:.0f} MB to {late:.0f} MB"
    assert summary["total_s"] < SOAK_BUDGET_S + 120
