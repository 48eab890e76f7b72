"""Full-text search at scale: 100,000 items indexed, query p95 < 50 ms, indexing < 10 % of ingest's
store writes.

    .venv/bin/python benchmarks/bench_search.py [--items 100000] [--batch 1000] [--rounds 5]

Items are synthesized from the NYT corpus (../shared/eval/nyt-corpus.jsonl): a corpus headline
and lead, plus a sentence from each of three other leads (~100 words), from 60 outlets (Xinhua,
Reuters, … ), a year of publication dates, and one or two issue labels with evidence each (from
words of the text). Both runs store the same items the way ingest does: `upsert_items` in batches
of 1,000, then `save_classifications` for the batch — once into a store without the full-text
index (its table and triggers dropped: the baseline) and once into a store with it. The
indexing overhead is (indexed − baseline) / baseline of that store-write time, wall clock and
this process's CPU time (judged on CPU, which other load on a shared machine disturbs less;
both are printed, with the load average).

Then queries of the kinds an analyst types (words, phrases, OR, exclusions, prefixes, filters
on issue/source/side/dates, and the grouping by story that `search` does) run `--rounds` times
each against the indexed store, and the p50 / p95 / max of their wall-clock times are printed.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.records import Article, Classification, Evidence, IssueLabel  # noqa: E402
from flows.search.results import search  # noqa: E402
from flows.store import open_store  # noqa: E402
from flows.store.items import save_classifications, upsert_items  # noqa: E402

CORPUS = ROOT.parent / "shared" / "eval" / "nyt-corpus.jsonl"
P95_LIMIT_MS = 50.0
OVERHEAD_LIMIT = 0.10
OUTLETS = [
    "Xinhua",
    "China Daily",
    "Global Times",
    "CGTN",
    "People's Daily",
    "Reuters",
    "AP",
    "AFP",
    "BBC News",
    "The Guardian",
    "The Diplomat",
    "South China Morning Post",
    "Nikkei Asia",
    "Voice of America",
    "Radio Free Asia",
    "Bloomberg",
    "Financial Times",
    "Politico",
] + [f"Outlet {n}" for n in range(42)]
ISSUE_WORDS = {
    "taiwan": "taiwan",
    "trade": "tariff",
    "export_controls": "export",
    "tech": "chip",
    "military": "military",
    "human_rights": "rights",
    "diplomacy": "talks",
    "economy": "economy",
}
QUERIES = [
    "taiwan",
    "china",
    "tariffs",
    '"arms sales"',
    '"human rights"',
    "huawei OR zte",
    "tariffs -soybeans",
    "export*",
    "beijing washington talks",
    '"south china sea"',
    "military drills taiwan",
    "currency",
    "issue:taiwan arms",
    "issue:trade since:2024-06-01",
    "source:xinhua taiwan",
    'side:china "united states"',
    "side:us sanctions",
    "obama hu",
    "until:2024-03-01 trade",
    "since:2024-09-01 until:2024-10-01 china",
    "tibet OR xinjiang -dalai",
    '"climate change"',
    "north korea nuclear",
    "yuan",
    "google",
    "dissident",
    "visit",
    "summit",
    "issue:military",
    "source:reuters",
]


def load_corpus() -> list[dict]:
    with CORPUS.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [r for r in rows if len(r["text"].split()) >= 15]


def synthesize(corpus: list[dict], n: int, seed: int = 11) -> list[tuple[Article, Classification]]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    out = []
    for k in range(n):
        lead = rng.choice(corpus)
        extra = [rng.choice(corpus)["text"].split(". ")[0] for _ in range(3)]
        text = lead["text"] + "\n\n" + ". ".join(extra) + "."
        outlet = rng.choice(OUTLETS)
        url = f"https://{outlet.lower().replace(' ', '').replace(chr(39), '')}.example/{k}"
        article = Article(
            key=url,
            source=outlet,
            source_kind="feed",
            url=url,
            title=lead["title"],
            text=text,
            published=start + timedelta(minutes=k * 525600 / n),
        )
        lower = text.lower()
        issues = [i for i, w in ISSUE_WORDS.items() if w in lower][:2] or [rng.choice(list(ISSUE_WORDS))]
        labels = [IssueLabel(i, 0.5 + rng.random() / 2, [Evidence(lead["text"][:120], 0, 120)]) for i in issues]
        out.append((article, Classification(True, 0.9, labels)))
    return out


def drop_index(store) -> None:
    with store.session() as s:
        conn = s.connection()
        for trigger in ("items_fts_insert", "items_fts_update", "items_fts_delete"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        conn.exec_driver_sql("DROP TABLE IF EXISTS items_fts")


def store_all(store, items, batch: int) -> dict[str, tuple[float, float]]:
    """Store every item as ingest does; (wall s, CPU s) of the item writes and of the label writes."""
    spent = {"items": [0.0, 0.0], "labels": [0.0, 0.0]}
    first_seen = datetime(2025, 1, 1, tzinfo=timezone.utc)
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        t0, c0 = time.perf_counter(), time.process_time()
        upsert_items(store, [a for a, _ in chunk], now=first_seen + timedelta(minutes=start))
        t1, c1 = time.perf_counter(), time.process_time()
        save_classifications(store, [(a.item_id, c) for a, c in chunk], "bench")
        t2, c2 = time.perf_counter(), time.process_time()
        spent["items"][0] += t1 - t0
        spent["items"][1] += c1 - c0
        spent["labels"][0] += t2 - t1
        spent["labels"][1] += c2 - c1
    with store.session() as s:  # the index must be on disk, not only in the write-ahead log
        s.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    spent["all"] = [spent["items"][0] + spent["labels"][0], spent["items"][1] + spent["labels"][1]]
    return {k: (v[0], v[1]) for k, v in spent.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"FAIL: {CORPUS} not found (the shared eval corpus is needed to build the items)")
        return 1
    items = synthesize(load_corpus(), args.items)
    words = sum(len(a.text.split()) + len(a.title.split()) for a, _ in items) / len(items)
    print(f"{len(items):,} items, {words:.0f} words each on average; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        base = open_store(f"sqlite:///{tmp}/baseline.db")
        drop_index(base)
        baseline = store_all(base, items, args.batch)
        base.close()
        indexed = open_store(f"sqlite:///{tmp}/indexed.db")
        with_index = store_all(indexed, items, args.batch)
        size = {p.name: p.stat().st_size for p in Path(tmp).glob("*.db")}
        for part, what in (
            ("items", "items (upsert_items)"),
            ("labels", "labels (save_classifications)"),
            ("all", "all of ingest's item and label writes"),
        ):
            (bw, bc), (iw, ic) = baseline[part], with_index[part]
            print(
                f"{what}: baseline {bw:.2f} s wall / {bc:.2f} s CPU, indexed {iw:.2f} s / {ic:.2f} s: "
                f"{ic / bc - 1:+.1%} CPU, {iw / bw - 1:+.1%} wall"
            )
        over_cpu = with_index["all"][1] / baseline["all"][1] - 1
        print(
            f"indexing overhead on ingest's store writes: {over_cpu:+.1%} CPU (target < {OVERHEAD_LIMIT:.0%}); "
            f"store file {size['baseline.db'] / 2**20:.0f} -> {size['indexed.db'] / 2**20:.0f} MiB"
        )
        search(indexed, "warm up", 20)
        times: dict[str, list[float]] = {q: [] for q in QUERIES}
        found: dict[str, int] = {}
        for _ in range(args.rounds):
            for q in QUERIES:
                t0 = time.perf_counter()
                result = search(indexed, q, 20)
                times[q].append((time.perf_counter() - t0) * 1000)
                found[q] = len(result.stories)
        flat = sorted(t for ts in times.values() for t in ts)
        p95 = flat[min(len(flat) - 1, int(round(0.95 * len(flat))) - 1)]
        slowest = sorted(times, key=lambda q: -max(times[q]))[:5]
        print(
            f"queries: {len(flat)} ({len(QUERIES)} kinds x {args.rounds}), 20 stories each: "
            f"p50 {statistics.median(flat):.1f} ms, p95 {p95:.1f} ms, max {flat[-1]:.1f} ms (target p95 < {P95_LIMIT_MS:.0f} ms)"
        )
        for q in slowest:
            print(f"  slowest: {q!r}: median {statistics.median(times[q]):.1f} ms, {found[q]} stories")
        empty = [q for q in QUERIES if not found[q]]
        if empty:
            print(f"  (no results: {', '.join(map(repr, empty))})")
        indexed.close()
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    failed = []
    if p95 >= P95_LIMIT_MS:
        failed.append(f"query p95 {p95:.1f} ms >= {P95_LIMIT_MS:.0f} ms")
    if over_cpu >= OVERHEAD_LIMIT:
        failed.append(f"indexing overhead {over_cpu:.1%} >= {OVERHEAD_LIMIT:.0%}")
    print("FAIL: " + "; ".join(failed) if failed else "targets met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
