"""One concurrent writer for the PostgreSQL tests: a separate process, started with its peers, that
does its work only when the test says go (every peer ready first), and prints a JSON result.

    python pg_worker.py SYNC_DIR NAME upsert STORE_URL FIRST LAST
    python pg_worker.py SYNC_DIR NAME acquire STORE_URL LEASE
    python pg_worker.py SYNC_DIR NAME ingest CONFIG
    python pg_worker.py SYNC_DIR NAME shard CONFIG FEED_URL PARENT_LEASE
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path


def article(n: int):
    from flows.models import Article

    return Article(key=f"https://news.example.org/story/{n}", source="Concurrent", source_kind="feed",
                   url=f"https://news.example.org/story/{n}", title=f"Story {n}",
                   text=f"Beijing and Washington, story {n}, on tariffs.")


def ready_then_wait(sync: Path, name: str) -> None:
    (sync / f"{name}.ready").touch()
    while not (sync / "go").exists():
        time.sleep(0.002)


def main(sync: Path, name: str, command: str, *args: str) -> dict:
    if command == "upsert":
        from flows.store import open_store
        from flows.store.items import upsert_items

        store = open_store(args[0])
        numbers = list(range(int(args[1]), int(args[2])))
        ready_then_wait(sync, name)
        new: list[str] = []
        for start in range(0, len(numbers), 25):       # many small transactions, interleaved with the peers'
            new += upsert_items(store, [article(n) for n in numbers[start:start + 25]]).new_ids
        return {"new": new}
    if command == "acquire":
        from flows.store import open_store
        from flows.store.locks import try_acquire

        store = open_store(args[0])
        ready_then_wait(sync, name)
        return {"acquired": try_acquire(store, args[1], name, timedelta(minutes=1))}

    from flows import pipeline
    from flows.config import load_settings
    from flows.locks import LeaseBusy

    settings = load_settings(args[0])
    pipeline.store_for(settings)                         # connect (and create tables) before the start
    if command == "ingest":
        ready_then_wait(sync, name)
        try:
            return pipeline.run_ingest(settings, pipeline.IngestOptions(force=True)).to_dict()
        except LeaseBusy as e:
            return {"busy": str(e)}
    if command == "shard":
        feeds = pipeline.feeds_by_url(settings, [args[1]])
        ready_then_wait(sync, name)
        return pipeline.run_feed_shard(settings, feeds, pipeline.IngestOptions(force=True), parent_lease=args[2]).to_dict()
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    result = main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], *sys.argv[4:])
    print(json.dumps(result))
