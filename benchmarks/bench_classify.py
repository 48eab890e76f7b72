"""Classifier speed: items per second on 500-word articles, model load time, peak memory.

Target (issue 17): at least 200 items/s of 500-word articles, measured as wall time with the cores
the run really uses: one process, then two worker processes on this 2-core machine (wall time of
the two, from the first item handed out to the last verdict back). Model load is reported apart,
cold (a fresh interpreter, imports included) and warm. The baseline measured in the same run is
the taxonomy's term scan alone (`TermIndex.scan`, the cheapest part every verdict needs), so the
cost of the model on top is visible. Articles are built from the project's seed articles
(500-word windows, paragraphs kept), so the benchmark needs nothing outside the project.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ISSUES = ROOT / "config" / "issues.yaml"
WORDS = 500
N_ITEMS = 1000
TARGET = 200.0


def articles(n: int = N_ITEMS, words: int = WORDS) -> list[tuple[str, str]]:
    """n distinct 500-word articles: sliding windows over the seeds' paragraphs."""
    from flows.sources.seeds import read_seed

    paragraphs = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        paragraphs += [p for p in read_seed(path).text.split("\n\n") if p.strip()]
    out = []
    k = 0
    while len(out) < n:
        body, count, j = [], 0, k
        while count < words:
            p = paragraphs[j % len(paragraphs)]
            body.append(p)
            count += len(p.split())
            j += 1
        text = " ".join(" ".join(body).split()[:words])
        # restore paragraph breaks roughly every 80 words, as articles have them
        tokens = text.split()
        text = "\n\n".join(" ".join(tokens[i : i + 80]) for i in range(0, len(tokens), 80))
        out.append((f"Article {len(out)} on US-China relations", text))
        k += 1
    return out


_worker = None
CHUNK = 25


def _init(baseline: bool) -> None:
    global _worker
    from flows.classify import load_classifier

    classifier = load_classifier(ISSUES)
    if baseline:
        from flows.classify.text import joined_text, sentences

        def scan(items):
            for title, text in items:
                classifier.terms.scan(joined_text(title, text), sentences(title, text))

        _worker = scan
    else:
        _worker = classifier.classify_many


def _classify_chunk(chunk: list[tuple[str, str]]) -> int:
    _worker(chunk)
    return len(chunk)


def throughput(items, baseline: bool, processes: int) -> float:
    """Wall-clock items/s of this setting (workers loaded and warmed before the clock starts)."""
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    if processes == 1:
        _init(baseline)
        _classify_chunk(items[:5])
        wall = time.perf_counter()
        for chunk in chunks:
            _classify_chunk(chunk)
        return len(items) / (time.perf_counter() - wall)
    with mp.get_context("fork").Pool(processes, initializer=_init, initargs=(baseline,)) as pool:
        pool.map(_classify_chunk, chunks[:processes], chunksize=1)  # warm up
        wall = time.perf_counter()
        done = sum(pool.map(_classify_chunk, chunks, chunksize=1))
        return done / (time.perf_counter() - wall)


def cold_load_seconds() -> float:
    """Import + load of the packaged model in a fresh interpreter (what a CLI call pays)."""
    code = (
        "import time; t=time.perf_counter(); from flows.classify import load_classifier; "
        f"load_classifier({str(ISSUES)!r}); print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> int:
    from flows.classify import load_classifier

    items = articles()
    start = time.perf_counter()
    load_classifier(ISSUES)
    warm_load = time.perf_counter() - start
    cold = cold_load_seconds()
    print(f"articles: {len(items)} x {WORDS} words")
    print(
        f"model load: {cold * 1000:.0f} ms cold (fresh interpreter, imports included), "
        f"{warm_load * 1000:.0f} ms in-process"
    )
    figures = {}
    for label, baseline in (("term scan only (baseline)", True), ("classifier (shipped)", False)):
        one, two = throughput(items, baseline, 1), throughput(items, baseline, 2)
        figures[label] = (one, two)
        print(f"{label:<26} 1 process: {one:6.1f} items/s wall | 2 processes: {two:6.1f} items/s wall")
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: {peak_self:.0f} MiB (this process), {peak_children:.0f} MiB (largest worker)")
    one, two = figures["classifier (shipped)"]
    print(f"the classifier costs {figures['term scan only (baseline)'][0] / one:.2f}x the term scan's time per item")
    ok = two >= TARGET
    print(
        f"target {TARGET:.0f} items/s (2 processes, wall): {'met' if ok else 'NOT met'} ({two:.0f}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores during the run)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
