"""Prefect flows: `ingest`, `digest` and `pipeline` (both). Prefect stays at this edge.

Each flow loads the settings, then runs the same plain pipeline functions the CLI runs in-process,
with every coarse stage (the seeds, a batch of feeds, classification, the digest) as one task run.
"""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "flows")

from datetime import datetime  # noqa: E402
from typing import Any, Callable  # noqa: E402

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from flows import pipeline  # noqa: E402
from flows.config import load_settings  # noqa: E402

# Network-bound stages are retried with backoff; the others fail fast.
RETRIES: dict[str, tuple[int, list[float]]] = {
    "ingest_feeds": (2, [10, 60]),
}


def prefect_step(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run one pipeline stage as a Prefect task run."""
    retries, delays = RETRIES.get(fn.__name__, (0, [0]))
    wrapped = task(fn, name=fn.__name__.replace("_", "-"), cache_policy=NO_CACHE,
                   retries=retries, retry_delay_seconds=delays)
    return wrapped(*args, **kwargs)


@flow(name="ingest", log_prints=True)
def ingest(config_path: str | None = None, sources: str = "all", max_items: int | None = None,
           force: bool = False) -> dict:
    """Ingest seeds and feeds into the store and classify what is new."""
    settings = load_settings(config_path)
    options = pipeline.IngestOptions(sources=sources, max_items=max_items, force=force)
    return pipeline.run_ingest(settings, options, step=prefect_step).to_dict()


@flow(name="digest", log_prints=True)
def digest(config_path: str | None = None, period: str | None = None, since: datetime | None = None,
           until: datetime | None = None, issues: list[str] | None = None, send: bool = False,
           to: str | None = None) -> dict:
    """Render the digest of a period (and send it when asked)."""
    settings = load_settings(config_path)
    options = pipeline.DigestOptions(period=period, since=since, until=until, issues=issues,
                                     send=send, to=to)
    return pipeline.run_digest(settings, options, step=prefect_step).to_dict()


@flow(name="pipeline", log_prints=True)
def run_all(config_path: str | None = None, send: bool = False) -> dict:
    """Ingest, then write the digest."""
    return {"ingest": ingest(config_path=config_path),
            "digest": digest(config_path=config_path, send=send)}
