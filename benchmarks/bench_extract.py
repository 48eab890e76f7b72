"""Extraction quality: token F1 of stored text against the 167 pages' gold article bodies.

Serves the pages of ../shared/fixtures/pages on loopback behind one RSS feed (one entry per page,
a one-line teaser as the entry's description), runs the real `ingest_feeds` (fetch, robots,
extraction in worker processes, cleaning, storage) and scores the text it stored. Side by side:
`trafilatura.extract(html)` called directly with its defaults on the same bytes.

Token F1 as in the article-extraction-benchmark: bags of lower-cased word tokens, precision and
recall of the overlap, per page; the mean over pages is reported.

    .venv/bin/python benchmarks/bench_extract.py
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.material import SHARED, in_ci  # noqa: E402

PAGES = SHARED / "fixtures" / "pages"

_TOKEN = re.compile(r"\w+")


def token_f1(predicted: str | None, gold: str) -> float:
    got, want = Counter(_TOKEN.findall((predicted or "").lower())), Counter(_TOKEN.findall(gold.lower()))
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def main() -> int:
    if not (PAGES / "ground-truth.json").is_file():
        print(f"skipped: {PAGES} not found")
        return 1 if in_ci() else 0
    import trafilatura
    from sqlalchemy import select

    from flows.config import FeedSource, FetchSettings, Settings
    from flows.sources.feeds import ingest_feeds
    from flows.store import open_store
    from flows.store.schema import Item
    from loopback import LoopbackWeb, load_pages

    truth = json.loads((PAGES / "ground-truth.json").read_text(encoding="utf-8"))
    pages = [p for p in load_pages(PAGES) if p[0] in truth]

    direct, direct_cpu = {}, 0.0
    for page_id, html, _ in pages:
        started = time.process_time()
        text = trafilatura.extract(html)
        direct_cpu += time.process_time() - started
        direct[page_id] = token_f1(text, truth[page_id]["articleBody"])

    web = LoopbackWeb(hosts=4, latency=0.0)
    url_to_id, items = {}, []
    for n, (page_id, html, gz) in enumerate(pages):
        url = web.add(f"{web.host(n)}/article/{page_id}", html, "text/html", gz)
        url_to_id[url] = page_id
        items.append(
            f"<item><title>Article {n}</title><link>{escape(url)}</link><guid>{page_id}</guid>"
            f"<description>Teaser for article {n}.</description></item>"
        )
    feed_xml = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()
    feed_url = web.add(f"{web.host(0)}/feed.xml", feed_xml, "application/rss+xml")

    folder = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    settings = Settings(data_dir=folder, seeds_dir=None, fetch=FetchSettings(allow_private_addresses=True))
    store = open_store(f"sqlite:///{folder / 'store.sqlite3'}")
    started = time.perf_counter()
    [report] = ingest_feeds(settings, store, [FeedSource(url=feed_url, name="bench")])
    seconds = time.perf_counter() - started
    web.stop()
    with store.session() as s:
        stored = {url_to_id[i.url]: i for i in s.scalars(select(Item)) if i.url in url_to_id}

    pipeline = {
        pid: token_f1(stored[pid].text if pid in stored else "", truth[pid]["articleBody"]) for pid, _, _ in pages
    }
    fallbacks = Counter((i.extraction_note or "")[:60] for i in stored.values() if i.extraction != "trafilatura")
    n = len(pages)
    mean_direct, mean_pipeline = sum(direct.values()) / n, sum(pipeline.values()) / n
    worse = sorted(((direct[p] - pipeline[p], p) for p in direct), reverse=True)[:3]
    print(f"pages: {n}; ingest report: {report.status}, {report.items_new} stored in {seconds:.1f} s")
    print(f"{'':34} {'mean F1':>8} {'median':>7} {'F1<0.5':>7}")
    for name, scores in (("trafilatura.extract (direct)", direct), ("pipeline (stored text)", pipeline)):
        values = sorted(scores.values())
        print(f"{name:34} {sum(values) / n:>8.4f} {values[n // 2]:>7.4f} {sum(v < 0.5 for v in values):>7}")
    ok = mean_pipeline >= mean_direct - 0.005
    print(
        f"difference (pipeline - direct): {mean_pipeline - mean_direct:+.4f}  "
        f"(target: the pipeline loses no quality: {'met' if ok else 'NOT met'})"
    )
    print(
        f"direct extraction CPU: {1000 * direct_cpu / n:.1f} ms per page; "
        f"pages stored from the feed instead: {sum(fallbacks.values())} {dict(fallbacks) or ''}"
    )
    print(
        "largest per-page differences (pipeline - direct): "
        + ", ".join(f"{pid[:10]} {-delta:+.3f}" for delta, pid in worse)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
