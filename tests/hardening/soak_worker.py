"""The soak's long-lived ingest process: one `run_ingest` per line on stdin, one JSON line back.

Run as `python -m tests.hardening.soak_worker CONFIG`; it lives for the whole soak, like a
scheduled service does, so its memory over hundreds of runs says whether anything leaks.
Lines: `ingest` runs a forced ingest; `digest SINCE UNTIL` writes the digest of that window and
e-mails it; `quit` ends.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime

from flows.config import load_settings
from flows.pipeline import DigestOptions, IngestOptions, run_digest, run_ingest

from .memwatch import rss_kb, tree_rss_mb


def main() -> None:
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    settings = load_settings(sys.argv[1])
    import os

    for line in sys.stdin:
        command, *args = line.split()
        if command == "quit":
            break
        if command not in ("ingest", "digest"):
            continue
        start = time.monotonic()
        try:
            if command == "ingest":
                report = run_ingest(settings, IngestOptions(force=True)).to_dict()
            else:
                since, until = (datetime.fromisoformat(a) for a in args)
                report = run_digest(settings, DigestOptions(send=True, since=since, until=until)).to_dict()
            error = None
        except Exception as exc:  # the soak counts it; the process lives on
            report, error = None, f"{type(exc).__name__}: {exc}"[:500]
        out = {
            "seconds": time.monotonic() - start,
            "rss_mb": rss_kb(os.getpid()) / 1024,
            "tree_mb": tree_rss_mb(os.getpid()),
            "report": report,
            "error": error,
        }
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
