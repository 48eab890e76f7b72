"""Throughput of feed ingestion vs a naive sequential script, and the cost of an all-304 re-run.

Serves the 110 fixture feeds from ../shared/fixtures/feeds on 16 loopback hosts (127.0.0.2-17)
with every entry's link rewritten to a loopback URL answered by one of the 167 fixture pages,
and 50 ms of added latency on every request. Then, each in its own process:

- ingest: `flows.sources.feeds.ingest_feeds` on a fresh store (defaults: 16 connections, 2 per
  host, extraction in a process pool), then again with force=True: every feed answers 304.
- naive: urllib + feedparser + trafilatura.extract, one item after another, as a user would
  write it (time-boxed: its rate is steady, so a sample of it gives its items/s).

Reports items/s and peak memory of each, the extraction bound (the pages' trafilatura CPU time
divided by the cores), and the second run's time as a share of the first. Every target is judged
on wall time against wall time measured in the same run (the ingest's items/s against the naive
script's, against the bound's, and the second run's seconds against the first's); CPU time per
item is printed beside them, as an explanation, not a verdict.

    .venv/bin/python benchmarks/bench_ingest.py [--latency 0.05] [--naive-seconds 60]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.material import SHARED, in_ci  # noqa: E402

FIXTURES = SHARED / "fixtures"

HOSTS = 16
MAX_ITEMS = 200  # the pipeline's default per feed; the naive script gets the same entries


def build_site(web, pages, limit: int | None = None) -> tuple[list[str], list[str], list[int]]:
    """Serve the feeds with rewritten links; returns (feed URLs, item page ids, items per feed)."""
    import feedparser

    feed_urls, item_pages, per_feed = [], [], []
    served: set[str] = set()
    counter = 0
    for i, path in enumerate(sorted((FIXTURES / "feeds").glob("*.feed"))[:limit]):
        body = path.read_bytes()
        host = web.host(i)
        parsed = feedparser.parse(body, resolve_relative_uris=False, sanitize_html=False)
        links = {}
        for j, entry in enumerate(parsed.entries[:MAX_ITEMS]):
            link = entry.get("link")
            if link and link not in links:
                links[link] = f"{host}/p/{i}/{j}"
        for link in sorted(links, key=len, reverse=True):
            target = links[link].encode()
            for form in {link, html.escape(link, quote=False), html.escape(link)}:
                body = body.replace(form.encode("utf-8"), target)
        count = 0
        for entry in feedparser.parse(body, resolve_relative_uris=False, sanitize_html=False).entries[:MAX_ITEMS]:
            count += 1
            link = entry.get("link") or ""
            if link.startswith(host + "/p/") and link not in served:
                served.add(link)
                page_id, page_html, page_gz = pages[counter % len(pages)]
                counter += 1
                web.add(link, page_html, "text/html", page_gz)
                item_pages.append(page_id)
        ctype = "application/json" if body.lstrip()[:1] == b"{" else "application/xml"
        feed_urls.append(web.add(f"{host}/feed/{i}.xml", body, ctype))
        per_feed.append(count)
    return feed_urls, item_pages, per_feed


def tree_usage(pid: int) -> dict[int, tuple[int, float]]:
    """{pid: (resident kB, CPU seconds so far)} for a process and all its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    usage: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/status") as f:
                rss = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        usage[int(entry)] = (rss, (int(fields[11]) + int(fields[12])) / tick)
    tree, stack = {}, [pid]
    while stack:
        p = stack.pop()
        if p in usage:
            tree[p] = usage[p]
        stack.extend(children.get(p, []))
    return tree


def run_contender(args: list[str]) -> dict:
    """Run this script in contender mode; sample the process tree's memory while it runs."""
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    peak = 0
    cpu: dict[int, float] = {}  # last CPU seconds seen per process of the tree
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            tree = tree_usage(proc.pid)
            peak = max(peak, sum(rss for rss, _ in tree.values()))
            cpu.update({p: seconds for p, (_, seconds) in tree.items()})
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"contender {args[0]} failed with exit code {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_tree_rss_mb"] = peak / 1024
    result["tree_cpu_s"] = sum(cpu.values()) - result.get("setup_cpu_s", 0.0)
    return result


# ---------------------------------------------------------------- contenders (child processes)


def contender_ingest(feed_urls: list[str], folder: Path, again: bool) -> dict:
    """One ingest run on the store in `folder` (the second run: everything answers 304)."""
    import resource

    from sqlalchemy import func, select

    from flows.config import FeedSource, FetchSettings, Settings
    from flows.sources.feeds import ingest_feeds
    from flows.store import open_store
    from flows.store.items import count_items
    from flows.store.schema import Item

    settings = Settings(data_dir=folder, seeds_dir=None, fetch=FetchSettings(allow_private_addresses=True))
    store = open_store(f"sqlite:///{folder / 'store.sqlite3'}")
    feeds = [FeedSource(url=u) for u in feed_urls]
    started, cpu_started = time.perf_counter(), time.process_time()
    reports = ingest_feeds(settings, store, feeds, force=again)
    seconds, main_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # CPU spent before the timed run (interpreter start, imports) is not the run's.
    setup_cpu = cpu_started
    with store.session() as s:
        by_extraction = dict(s.execute(select(Item.extraction, func.count()).group_by(Item.extraction)).all())
        notes = s.execute(
            select(func.substr(Item.extraction_note, 1, 60), func.count())
            .where(Item.extraction_note.is_not(None))
            .group_by(func.substr(Item.extraction_note, 1, 60))
            .order_by(func.count().desc())
            .limit(4)
        ).all()
    return {
        "items": count_items(store),
        "seconds": seconds,
        "main_cpu_s": main_cpu,
        "setup_cpu_s": setup_cpu,
        "new_items": sum(r.items_new for r in reports),
        "by_extraction": by_extraction,
        "top_notes": [list(n) for n in notes],
        "statuses": {s: sum(r.status == s for r in reports) for s in {r.status for r in reports}},
        "main_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def contender_naive(feed_urls: list[str], budget: float) -> dict:
    import resource
    import urllib.request

    import feedparser
    import trafilatura

    setup_cpu = time.process_time()
    started = time.perf_counter()
    items = 0
    for feed_url in feed_urls:
        feed = feedparser.parse(urllib.request.urlopen(feed_url, timeout=30).read())
        for entry in feed.entries[:MAX_ITEMS]:
            try:
                page = urllib.request.urlopen(entry.link, timeout=30).read()
                trafilatura.extract(page)
            except Exception:
                pass
            items += 1
        if time.perf_counter() - started > budget:
            break
    return {
        "items": items,
        "seconds": time.perf_counter() - started,
        "setup_cpu_s": setup_cpu,
        "main_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# ---------------------------------------------------------------- the benchmark


def extraction_cpu(pages, rounds: int = 3) -> dict[str, float]:
    """CPU seconds of `trafilatura.extract` (defaults) on each page: the median of `rounds` runs
    after a warm-up pass. (A single cold pass varied by a fifth from run to run, and with it the
    bound; the ingest's workers are warm for all but their first pages.)"""
    import statistics

    import trafilatura

    samples: dict[str, list[float]] = {page_id: [] for page_id, _, _ in pages}
    for round_ in range(rounds + 1):
        for page_id, page_html, _ in pages:
            started = time.process_time()
            trafilatura.extract(page_html)
            if round_:
                samples[page_id].append(time.process_time() - started)
    return {page_id: statistics.median(values) for page_id, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--naive-seconds", type=float, default=60.0)
    parser.add_argument("--feeds", type=int, default=None, help="only the first N feeds (a quick run)")
    parser.add_argument("--contender", choices=["ingest", "ingest-again", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--feeds-file", help=argparse.SUPPRESS)
    parser.add_argument("--store-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.contender:
        feed_urls = json.loads(Path(args.feeds_file).read_text())
        if args.contender == "naive":
            result = contender_naive(feed_urls, args.naive_seconds)
        else:
            result = contender_ingest(feed_urls, Path(args.store_dir), again=args.contender == "ingest-again")
        print(json.dumps(result))
        return 0

    if not (FIXTURES / "feeds").is_dir() or not (FIXTURES / "pages").is_dir():
        print(f"skipped: shared fixtures not found at {FIXTURES}")
        return 1 if in_ci() else 0
    from loopback import LoopbackWeb, load_pages
    from flows.sources.workers import available_cpus

    pages = load_pages(FIXTURES / "pages")
    web = LoopbackWeb(HOSTS, args.latency)
    feed_urls, item_pages, per_feed = build_site(web, pages, args.feeds)
    feeds_file = Path(tempfile.mkdtemp(prefix="bench-")) / "feeds.json"
    feeds_file.write_text(json.dumps(feed_urls))
    cores = available_cpus()
    costs = extraction_cpu(pages)
    bound_seconds = sum(costs[p] for p in item_pages) / cores
    entries = sum(per_feed)
    print(
        f"feeds: {len(feed_urls)} on {HOSTS} loopback hosts, {entries} entries, {len(item_pages)} links "
        f"answered by the {len(pages)} fixture pages; +{args.latency * 1000:.0f} ms per request; "
        f"{cores} cores; load average {os.getloadavg()[0]:.1f}"
    )

    store_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    serving_started = time.process_time()  # this process: the loopback web's threads, the sampler
    ingest = run_contender(["--contender", "ingest", "--feeds-file", str(feeds_file), "--store-dir", str(store_dir)])
    serving_cpu = time.process_time() - serving_started
    load_after_ingest = os.getloadavg()[0]
    again = run_contender(
        ["--contender", "ingest-again", "--feeds-file", str(feeds_file), "--store-dir", str(store_dir)]
    )
    naive = run_contender(
        ["--contender", "naive", "--feeds-file", str(feeds_file), "--naive-seconds", str(args.naive_seconds)]
    )
    web.stop()

    ingest_rate = ingest["items"] / ingest["seconds"]
    naive_rate = naive["items"] / naive["seconds"]
    bound_rate = len(item_pages) / bound_seconds
    mean_ms = 1000 * sum(costs.values()) / len(costs)
    print(
        f"extraction bound: trafilatura.extract {mean_ms:.1f} ms CPU per page on average; "
        f"{len(item_pages)} pages / {cores} cores = {bound_seconds:.1f} s = {bound_rate:.1f} items/s"
    )
    print(
        f"{'':8} {'items':>6} {'seconds':>8} {'items/s':>8} {'peak tree RSS':>14} {'main RSS':>9} "
        f"{'CPU s (tree)':>13} {'CPU ms/item':>12}"
    )
    for name, r in (("ingest", ingest), ("naive", naive)):
        print(
            f"{name:8} {r['items']:>6} {r['seconds']:>8.1f} {r['items'] / r['seconds']:>8.1f} "
            f"{r['peak_tree_rss_mb']:>11.0f} MB {r['main_maxrss_mb']:>6.0f} MB {r['tree_cpu_s']:>13.1f} "
            f"{1000 * r['tree_cpu_s'] / r['items']:>12.1f}"
        )
    print(
        f"ingest statuses: {ingest['statuses']}; text from: {ingest['by_extraction']}; main process CPU "
        f"{1000 * ingest['main_cpu_s'] / ingest['items']:.1f} ms/item (the rest is in the worker processes)"
    )
    for note, count in ingest["top_notes"]:
        print(f"  fallback x{count}: {note}")
    share = again["seconds"] / ingest["seconds"]
    print(
        f"second run (nothing new, force=True): {again['seconds']:.2f} s = {100 * share:.1f}% of the first "
        f"(target < 5%); statuses {again['statuses']}, {again['new_items']} new items"
    )
    used = ingest["tree_cpu_s"] / ingest["seconds"] / cores
    print(
        f"measured on this machine: {ingest_rate:.1f} items/s = {ingest_rate / naive_rate:.1f}x naive, "
        f"{100 * ingest_rate / bound_rate:.0f}% of the extraction bound; the ingest got {100 * used:.0f}% of "
        f"{cores} cores (load average {load_after_ingest:.1f} after it: other processes share them), "
        f"the loopback web server and this script's sampler {100 * serving_cpu / ingest['seconds'] / cores:.0f}%"
    )
    # Wall against wall: the ingest's items/s against the naive script's and the bound's (the
    # bound is the wall time the pages' extraction would take on all cores, nothing else running).
    speedup, of_bound = ingest_rate / naive_rate, ingest_rate / bound_rate
    cpu_rate = cores * ingest["items"] / ingest["tree_cpu_s"]
    print(
        f"judged on wall time: {ingest_rate:.1f} items/s = {speedup:.1f}x naive (target >= 5x), "
        f"{100 * of_bound:.0f}% of the extraction bound (target >= 80%); for comparison, its CPU time "
        f"per item would give {cpu_rate:.1f} items/s on {cores} otherwise idle cores"
    )
    missed = [
        name
        for name, ok in (
            ("5x naive", speedup >= 5),
            ("80% of the bound", of_bound >= 0.8),
            ("second run < 5%", share < 0.05),
        )
        if not ok
    ]
    print("targets: " + ("all met" if not missed else "NOT met: " + ", ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
