"""Prefect flows: `ingest`, `ingest-shard`, `digest` and `pipeline`. Prefect stays at this edge.

Each flow loads the settings, then runs the same plain pipeline functions the CLI runs in-process,
every coarse stage (the seeds, a batch of feeds, classification, the digest) as one task run.

* The flows are async and run the (blocking) pipeline in a worker thread: a run starts about a
  second sooner than a sync flow run, which is what a person clicking "Run" in the UI waits for.
* Parameters are typed, bounded and described (the `Args:` of each docstring): the UI's run form
  is generated from them, and deployments enforce the schema, so the API refuses a run whose
  parameters do not fit and says why. Issue ids, feed names and feed URLs are offered as choices
  (from the default config when a deployment is made; `flows.service.deployments` narrows them to the served
  config's, and shows each optional parameter as one input instead of a "type | None" switch).
* Every run leaves artifacts in the UI: for `digest` a markdown summary (top stories per issue,
  where to read it) and a table of stories and items per issue; for `ingest` a feed-health table
  and a short summary.
* Logs of the pipeline's own `flows.*` loggers reach the run's log in the UI
  (`PREFECT_LOGGING_EXTRA_LOGGERS=flows`, set before Prefect is imported).
* A second ingest while one runs ends at once as a completed run named "Skipped" that says who
  holds the ingest lease (`flows.locks.guard`); a second digest waits for the first.
"""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "flows")

import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from typing import Annotated, Any, Callable, Literal  # noqa: E402

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.client.orchestration import get_client  # noqa: E402
from prefect.client.schemas.filters import (  # noqa: E402
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.context import FlowRunContext  # noqa: E402
from prefect.deployments import arun_deployment  # noqa: E402
from prefect.states import Completed, State  # noqa: E402
from pydantic import Field, GetJsonSchemaHandler  # noqa: E402
from pydantic.json_schema import JsonSchemaValue  # noqa: E402
from pydantic_core import core_schema  # noqa: E402

from flows import pipeline  # noqa: E402
from flows.locks import guard  # noqa: E402
from flows.service import artifacts  # noqa: E402
from flows.sources.feedlist import all_feeds  # noqa: E402
from flows.config import ConfigError, FeedSource, Settings, load_settings, load_taxonomy  # noqa: E402
from flows.records import SourceReport  # noqa: E402

# Prefect hands its log handlers to the extra loggers but not a level: `flows.*` would fall back to
# the root's WARNING and its INFO lines would never reach the UI. Follow Prefect's own level.
if logging.getLogger("flows").level == logging.NOTSET:
    logging.getLogger("flows").setLevel(logging.getLogger("prefect").getEffectiveLevel())

# Network-bound stages are retried with backoff; the others fail fast.
RETRIES: dict[str, tuple[int, list[float]]] = {
    "ingest_feeds": (2, [10, 60]),
}

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
FEED_HEALTH_KEY = "feed-health"  # artifact keys: lowercase letters, digits and dashes
SHARD_DEPLOYMENT = "ingest-shard/served"


class DefaultConfigChoices:
    """Offer a string parameter's values from the default config as the schema's `enum`.

    The run form then shows a select (a multi-select for a list) instead of free text, and the
    server refuses anything else. The values are read when the schema is made (the flow's import,
    `prefect deploy`), from `USCHINA_DIGEST_CONFIG` or config/pipeline.yaml; the flow still takes
    any string and checks it against the config of its run. An unreadable config leaves free text.
    """

    def __init__(self, values: Callable[[Settings], list[str]]):
        self.values = values

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        try:
            json_schema["enum"] = self.values(load_settings(None))
        except (ConfigError, OSError, ValueError):
            pass
        return json_schema


def issue_ids(settings: Settings) -> list[str]:
    """The taxonomy's issue ids, and `other` (relevant items with no issue)."""
    return load_taxonomy(settings.issues_file).ids + ["other"]


def source_names(settings: Settings) -> list[str]:
    """What `ingest` takes as `sources`: `all`, `seeds`, `feeds` or one configured feed's name."""
    return ["all", "seeds", "feeds", *(f.label for f in all_feeds(settings))]


def feed_urls(settings: Settings) -> list[str]:
    return [f.url for f in all_feeds(settings)]


MaxItems = Annotated[int, Field(ge=1, le=10_000)]
Shards = Annotated[int, Field(ge=1, le=64)]
Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=320)]
# The server does not check `format: date-time`; a pattern makes it refuse what is not ISO 8601.
ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
When = Annotated[datetime, Field(json_schema_extra={"pattern": ISO_DATETIME})]
IssueIds = Annotated[
    list[Annotated[str, DefaultConfigChoices(issue_ids)]], Field(json_schema_extra={"uniqueItems": True})
]
Source = Annotated[str, DefaultConfigChoices(source_names)]
FeedUrls = Annotated[
    list[Annotated[str, DefaultConfigChoices(feed_urls)]], Field(min_length=1, json_schema_extra={"uniqueItems": True})
]


def prefect_step(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run one pipeline stage as a Prefect task run."""
    retries, delays = RETRIES.get(fn.__name__, (0, [0]))
    wrapped = task(
        fn, name=fn.__name__.replace("_", "-"), cache_policy=NO_CACHE, retries=retries, retry_delay_seconds=delays
    )
    return wrapped(*args, **kwargs)


def _run_label() -> str:
    ctx = FlowRunContext.get()
    return f"flow run {ctx.flow_run.name} ({ctx.flow_run.id})" if ctx and ctx.flow_run else "a flow run"


async def _in_thread(fn: Callable, *args: Any) -> Any:
    """Run a blocking pipeline function beside the event loop; leases it takes name this run."""
    label = _run_label()

    def call() -> Any:
        with guard.labelled(label):
            return fn(*args)

    return await asyncio.to_thread(call)


def _skipped(reason: str, report: pipeline.IngestReport | None = None) -> State:
    get_run_logger().warning("skipped: %s", reason)
    return Completed(
        name="Skipped", message=reason, data={**(report or pipeline.IngestReport()).to_dict(), "skipped": reason}
    )


# ------------------------------------------------------------------ ingest


def _feed_health(settings: Settings) -> list[dict] | None:
    """The store's per-feed health (`flows.store.feeds.feed_health`), where that module exists."""
    try:
        from flows.store.feeds import feed_health
    except ImportError:
        return None
    return feed_health(pipeline.store_for(settings))


async def _publish_ingest(settings: Settings, report: pipeline.IngestReport, *, summary: bool = True) -> None:
    rows = artifacts.feed_health_rows(report.sources, await asyncio.to_thread(_feed_health, settings))
    await acreate_table_artifact(
        rows, key=FEED_HEALTH_KEY, description="Each source in this run: status, new and known items, errors, health"
    )
    if summary:
        await acreate_markdown_artifact(
            artifacts.ingest_markdown(report.to_dict()), key="ingest-summary", description="What this ingest stored"
        )


async def _shard_reports(
    deployment: str, parts: list[list[FeedSource]], force: bool, max_items: int | None, parent_lease: str | None
) -> list[SourceReport]:
    """Run each shard as a flow run of `deployment` (any worker may pick it up), wait for all, and
    read back each one's per-source results from its feed-health artifact."""
    logger = get_run_logger()
    n = len(parts)
    logger.info("fanning %d feeds out to %d runs of %s", sum(map(len, parts)), n, deployment)
    runs = await asyncio.gather(
        *(
            arun_deployment(
                deployment,
                timeout=None,
                poll_interval=1,
                flow_run_name=f"shard-{k}-of-{n}",
                parameters=_given(
                    {
                        "feeds": [f.url for f in part],
                        "max_items": max_items,
                        "force": force,
                        "parent_lease": parent_lease,
                    }
                ),
            )
            for k, part in enumerate(parts, 1)
        )
    )
    reports: list[SourceReport] = []
    async with get_client() as client:
        for k, run in enumerate(runs, 1):
            if run.state is None or not run.state.is_completed():
                state = run.state.name if run.state else "unknown"
                reports += [
                    SourceReport(
                        f.label, "error", error=f"shard {k}/{n} ended {state}: {run.state.message if run.state else ''}"
                    )
                    for f in parts[k - 1]
                ]
                continue
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[FEED_HEALTH_KEY]), flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])
                )
            )
            reports += artifacts.reports_from_rows(json.loads(found[0].data) if found else [])
    return reports


def _given(parameters: dict[str, Any]) -> dict[str, Any]:
    """Leave out parameters that are None (the flow's default): a served schema has no null in it."""
    return {name: value for name, value in parameters.items() if value is not None}


def _fan_out(shards: int, deployment: str) -> pipeline.Step:
    """A step runner that sends the feed stage to `shards` child runs; every other stage runs here."""

    def step(fn: Callable, *args: Any, **kwargs: Any) -> Any:
        if fn is not pipeline.ingest_feeds:
            return prefect_step(fn, *args, **kwargs)
        _settings, feeds, force, max_items = args[:4]
        parts = pipeline.split_feeds(feeds, shards)
        if len(parts) < 2:
            return prefect_step(fn, *args, **kwargs)
        # We are in the pipeline's worker thread: a private event loop for the child runs.
        return asyncio.run(_shard_reports(deployment, parts, force, max_items, guard.held("ingest")))

    return step


@flow(name="ingest", log_prints=True)
async def ingest(
    sources: Source = "all",
    max_items: MaxItems | None = None,
    force: bool = False,
    shards: Shards = 1,
    shard_deployment: str = SHARD_DEPLOYMENT,
    config_path: str | None = None,
) -> dict:
    """Fetch seeds and feeds into the store and classify what is new. Nothing is stored twice.

    Args:
        sources: What to ingest: `all`, `seeds` (the seeds folder only), `feeds` (every configured feed) or the name of one feed.
        max_items: At most this many entries per feed (empty: the config's `fetch.max_items_per_feed`).
        force: Fetch feeds even when they are not due yet.
        shards: Split the feeds into this many shards, each fetched by its own run of `shard_deployment` on any worker; 1 fetches them all in this run.
        shard_deployment: The deployment (`ingest-shard/<name>`) that fetches one shard when shards > 1.
        config_path: Pipeline config file on the machine that runs the flow (empty: config/pipeline.yaml or USCHINA_DIGEST_CONFIG).
    """
    logger = get_run_logger()
    settings = load_settings(config_path)
    options = pipeline.IngestOptions(sources=sources, max_items=max_items, force=force)
    step = _fan_out(shards, shard_deployment) if shards > 1 else prefect_step
    try:
        report = await _in_thread(pipeline.run_ingest, settings, options, step)
    except guard.LeaseBusy as e:
        return _skipped(str(e))
    await _publish_ingest(settings, report)
    failed = [s.source for s in report.sources if s.status == "error"]
    logger.info(
        "ingest done: %d new, %d already stored, %d classified%s",
        report.items_new,
        report.items_seen,
        report.classified,
        f"; failed: {', '.join(failed)}" if failed else "",
    )
    return report.to_dict()


@flow(name="ingest-shard", log_prints=True)
async def ingest_shard(
    feeds: FeedUrls,
    max_items: MaxItems | None = None,
    force: bool = False,
    parent_lease: str | None = None,
    config_path: str | None = None,
) -> dict:
    """Fetch one shard of the feeds; started by an `ingest` run with shards > 1.

    Args:
        feeds: URLs of the feeds in this shard (each must be in the config).
        max_items: At most this many entries per feed.
        force: Fetch feeds even when they are not due yet.
        parent_lease: The parent ingest's lease token; empty when started by hand (then this run takes the ingest lease itself and classifies what it stored).
        config_path: Pipeline config file on the machine that runs the flow (empty: the default).
    """
    settings = load_settings(config_path)
    chosen = pipeline.feeds_by_url(settings, feeds)
    options = pipeline.IngestOptions(sources="feeds", max_items=max_items, force=force)
    try:
        report = await _in_thread(pipeline.run_feed_shard, settings, chosen, options, parent_lease, prefect_step)
    except guard.LeaseBusy as e:
        return _skipped(str(e))
    await _publish_ingest(settings, report, summary=parent_lease is None)
    return report.to_dict()


# ------------------------------------------------------------------ digest


def _check_digest_parameters(
    settings: Settings, since: datetime | None, until: datetime | None, issues: list[str] | None
) -> tuple[datetime | None, datetime | None]:
    """What the schema cannot say: the window's order, and issue ids of this config's taxonomy."""
    since, until = (None if t is None else t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (since, until))
    if since and until and since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    if issues:
        known = load_taxonomy(settings.issues_file).ids + ["other"]
        unknown = sorted(set(issues) - set(known))
        if unknown:
            raise ValueError(f"unknown issue id(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return since, until


async def _publish_digest(settings: Settings, result: dict) -> None:
    from flows.store.digests import get_digest

    record = await asyncio.to_thread(get_digest, pipeline.store_for(settings), result["id"])
    since = until = None
    if record is not None:
        since, until = (t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (record.since, record.until))
    await acreate_markdown_artifact(
        artifacts.digest_markdown(
            result,
            since=since,
            until=until,
            timezone=settings.schedule.timezone,
            archive_url=settings.digest.archive_url,
        ),
        key="digest-summary",
        description=f"Digest {result['id']}: top stories per issue",
    )
    await acreate_table_artifact(
        artifacts.issue_table(result),
        key="digest-issues",
        description=f"Digest {result['id']}: stories and items per issue",
    )


@flow(name="digest", log_prints=True)
async def digest(
    period: Literal["daily", "weekly"] | None = None,
    since: When | None = None,
    until: When | None = None,
    issues: IssueIds | None = None,
    send: bool = False,
    to: Email | None = None,
    config_path: str | None = None,
) -> dict:
    """Write the digest of a period or a custom window, and send it when asked.

    Args:
        period: `daily` or `weekly`: the items first seen since the previous digest of that period (empty: the config's `digest.period`).
        since: Start of a custom window instead of a period (a time without zone is UTC).
        until: End of the window (empty: now); without since, the period's digest that closes then.
        issues: Only these issue ids (empty: every issue, and `other`).
        send: E-mail the digest to the configured recipients (each is sent a digest once).
        to: Send only to this address, with every issue: a test send (implies send).
        config_path: Pipeline config file on the machine that runs the flow (empty: config/pipeline.yaml or USCHINA_DIGEST_CONFIG).
    """
    logger = get_run_logger()
    settings = load_settings(config_path)
    since, until = _check_digest_parameters(settings, since, until, issues)
    options = pipeline.DigestOptions(
        period=period, since=since, until=until, issues=issues or None, send=send or bool(to), to=to
    )
    result = (await _in_thread(pipeline.run_digest, settings, options, prefect_step)).to_dict()
    await _publish_digest(settings, result)
    logger.info(
        "digest %s: %d stories, %d items, %d sources; %s",
        result["id"],
        result["n_stories"],
        result["n_items"],
        result["n_sources"],
        result["html_path"],
    )
    if pipeline.undelivered(result):
        # The digest exists and its messages wait in the outbox, but a run that did not send what
        # it was asked to must not show as completed in the UI.
        raise pipeline.UndeliveredDigest(result)
    return result


@flow(name="pipeline", log_prints=True)
async def run_all(send: bool = False, config_path: str | None = None) -> dict:
    """Ingest everything, then write (and optionally send) the digest of the configured period.

    Args:
        send: E-mail the digest to the configured recipients.
        config_path: Pipeline config file on the machine that runs the flow (empty: the default).
    """
    ingested = await ingest(config_path=config_path)
    return {"ingest": ingested, "digest": await digest(config_path=config_path, send=send)}
