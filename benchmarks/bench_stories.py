"""Story assignment at scale: 100,000 items, under 60 s, under 1.5 GB, flat cost per item.

    .venv/bin/python benchmarks/bench_stories.py [--items 100000] [--batch 1000]

Synthetic items are built from the NYT corpus (../shared/eval/nyt-corpus.jsonl): each new story
is one corpus lead followed by sentences from three others (~150 words, about a feed article's
excerpt); 15 % of items are copies of an earlier item under another URL (tracking parameters,
AMP) and 10 % light edits of one (words dropped, new headline). About 300 items a day, so the
time window holds a realistic day's traffic. Items are stored batch by batch (not timed), then
`assign_stories` runs on the batch (timed), as the pipeline does after each ingest.

Printed: total assignment time (wall clock and this process's CPU time), peak memory of the
process, and the per-item cost over the 5,000 items before 10k, 50k and 100k. The baseline is
the cost at 10k; "flat" means the cost at the end is less than 1.5x the baseline, judged on CPU
time, which other load on the machine disturbs less than the wall clock (the load average is
printed too: on a shared machine the wall clock is only as good as the share it got). The time
limit is judged on the wall clock. Exits 1 when a target is missed (or, with CI=true, when the
corpus is missing), so `make bench` reports it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.material import SHARED, in_ci  # noqa: E402
from flows.records import content_hash, item_id_for  # noqa: E402
from flows.store import open_store  # noqa: E402
from flows.store.schema import Item  # noqa: E402
from flows.stories import assign_stories  # noqa: E402

CORPUS = SHARED / "eval" / "nyt-corpus.jsonl"
ITEMS_PER_DAY = 300
LIMIT_SECONDS = 60.0
LIMIT_MB = 1536.0


def load_corpus() -> list[dict]:
    with CORPUS.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [r for r in rows if len(r["text"].split()) >= 15]


class Generator:
    """A deterministic stream of synthetic feed items with copies and light edits."""

    def __init__(self, corpus: list[dict], seed: int = 7):
        self.corpus = corpus
        self.rng = random.Random(seed)
        self.history: list[dict] = []
        self.start = datetime(2024, 1, 1, tzinfo=timezone.utc)
        self.n = 0

    def _sentences(self) -> list[str]:
        r = self.rng.choice(self.corpus)
        return [s for s in r["text"].split(". ") if s]

    def next(self) -> dict:
        rng = self.rng
        at = self.start + timedelta(seconds=self.n * 86400 / ITEMS_PER_DAY + rng.uniform(0, 3600))
        roll = rng.random()
        if self.history and roll < 0.25:
            base = rng.choice(self.history[-2000:])
            if roll < 0.15:  # a copy under another URL
                title, text = base["title"], base["text"]
                extra = rng.choice(["?utm_source=rss", "?amp=1", "#comments"])
                url = base["url"] + (extra.replace("?", "&") if "?" in base["url"] else extra)
            else:  # a light edit: a new headline, some words dropped
                words = [w for w in base["text"].split() if rng.random() > 0.08]
                title, text = "Update: " + base["title"], " ".join(words)
                url = f"https://edited.example/{self.n}"
        else:
            lead = rng.choice(self.corpus)
            extra = [s for _ in range(3) for s in self._sentences()[:1]]
            title = lead["title"]
            text = lead["text"] + "\n\n" + ". ".join(extra)
            url = f"https://news{rng.randrange(40)}.example/{self.n}"
        item = {"title": title, "text": text, "url": url, "at": at}
        self.history.append(item)
        self.n += 1
        return item


def rows_for(batch: list[dict], first_seen: datetime) -> list[dict]:
    rows = []
    for item in batch:
        key = item["url"]
        rows.append(
            {
                "id": item_id_for(key),
                "key": key,
                "source": item["url"].split("/")[2],
                "source_kind": "feed",
                "feed_url": None,
                "url": item["url"],
                "guid": None,
                "title": item["title"],
                "text": item["text"],
                "published": item["at"],
                "undated": False,
                "first_seen": first_seen,
                "content_hash": content_hash(item["text"]),
                "extraction": "feed",
                "word_count": len(item["text"].split()),
            }
        )
    return rows


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"SKIP: {CORPUS} not found (the shared eval corpus is needed to build items)")
        return 1 if in_ci() else 0
    gen = Generator(load_corpus())
    load_at_start = os.getloadavg()[0]
    checkpoints = sorted({c for c in (10_000, 50_000, 100_000, args.items) if c <= args.items})
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.db")
        total = cpu = 0.0
        done = 0
        window: list[tuple[int, float, float]] = []  # (items, wall s, CPU s) per batch
        per_item: dict[int, tuple[float, float]] = {}  # checkpoint -> (wall ms, CPU ms) per item
        stories: set[str] = set()
        while done < args.items:
            batch = [gen.next() for _ in range(min(args.batch, args.items - done))]
            rows = rows_for(batch, batch[-1]["at"])
            with store.session() as s:
                s.connection().execute(insert(Item.__table__).prefix_with("OR IGNORE"), rows)
            ids = [r["id"] for r in rows]
            t0, c0 = time.perf_counter(), time.process_time()
            result = assign_stories(store, ids)
            elapsed = time.perf_counter() - t0
            used = time.process_time() - c0
            cpu += used
            stories.update(result.values())
            total += elapsed
            done += len(batch)
            window.append((len(batch), elapsed, used))
            for c in checkpoints:
                if c not in per_item and done >= c:
                    recent = window[-max(1, 5_000 // args.batch) :]
                    n = sum(r[0] for r in recent)
                    per_item[c] = (sum(r[1] for r in recent) / n * 1e3, sum(r[2] for r in recent) / n * 1e3)
        store.close()
    baseline = per_item[checkpoints[0]][1]
    print(
        f"load average          {load_at_start:.1f} at start, {os.getloadavg()[0]:.1f} at end ({os.cpu_count()} CPUs)"
    )
    print(f"items assigned        {done}")
    print(f"stories               {len(stories)}")
    print(f"assignment time       {total:.1f} s wall, {cpu:.1f} s CPU (limit {LIMIT_SECONDS:.0f} s)")
    print(f"peak memory (RSS)     {peak_mb():.0f} MB (limit {LIMIT_MB:.0f} MB)")
    for c in checkpoints:
        wall_ms, cpu_ms = per_item[c]
        print(
            f"per-item cost at {c:>7,}  {cpu_ms:.3f} ms CPU, {wall_ms:.3f} ms wall  "
            f"({cpu_ms / baseline:.2f}x the CPU cost at {checkpoints[0]:,})"
        )
    verdicts = {
        f"time < {LIMIT_SECONDS:.0f} s per 100k": total < LIMIT_SECONDS * done / 100_000,
        f"memory < {LIMIT_MB:.0f} MB": peak_mb() < LIMIT_MB,
        "flat cost (< 1.5x)": per_item[checkpoints[-1]][1] < 1.5 * baseline,
    }
    for name, ok in verdicts.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
