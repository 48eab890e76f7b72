"""One concurrent writer for the PostgreSQL tests: a separate process, started with its peers, that
does its work only when the test says go (every peer ready first), and prints a JSON result.

    python pg_worker.py SYNC_DIR NAME ingest CONFIG
    python pg_worker.py SYNC_DIR NAME shard CONFIG FEED_URL PARENT_LEASE
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def ready_then_wait(sync: Path, name: str) -> None:
    (sync / f"{name}.ready").touch()
    while not (sync / "go").exists():
        time.sleep(0.002)


def main(sync: Path, name: str, command: str, *args: str) -> dict:
    from flows import pipeline
    from flows.config import load_settings
    from flows.locks.guard import LeaseBusy

    settings = load_settings(args[0])
    pipeline.store_for(settings)  # connect (and create tables) before the start
    if command == "ingest":
        ready_then_wait(sync, name)
        try:
            return pipeline.run_ingest(settings, pipeline.IngestOptions(force=True)).to_dict()
        except LeaseBusy as e:
            return {"busy": str(e)}
    if command == "shard":
        feeds = pipeline.feeds_by_url(settings, [args[1]])
        ready_then_wait(sync, name)
        return pipeline.run_feed_shard(
            settings, feeds, pipeline.IngestOptions(force=True), parent_lease=args[2]
        ).to_dict()
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    result = main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], *sys.argv[4:])
    print(json.dumps(result))
