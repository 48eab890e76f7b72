"""The pipeline as plain functions: ingest (sources → store → stories → classify) and digest.

Each stage is a coarse function taking `Settings`. `run_ingest` and `run_digest` compose them
through a `step` callable: called directly by the CLI without a Prefect server, wrapped as
Prefect tasks by `flows.service.flows` — one code path, two entry points.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Literal

from flows.config import FeedSource, Settings, load_taxonomy
from flows.locks.guard import lease
from flows.records import SourceReport
from flows.sources.feedlist import all_feeds
from flows.store import Store, open_store

log = logging.getLogger(__name__)

Step = Callable[..., Any]
ProgressFn = Callable[[SourceReport], None]


def direct(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """The in-process step runner: just call the function."""
    return fn(*args, **kwargs)


@lru_cache(maxsize=8)
def _store(url: str) -> Store:
    return open_store(url)


def store_for(settings: Settings) -> Store:
    """The store of these settings (one engine per URL per process)."""
    return _store(settings.database_url)


# ------------------------------------------------------------------ ingest


@dataclass
class IngestOptions:
    sources: str = "all"  # all | seeds | feeds | a feed's name or URL
    max_items: int | None = None  # per feed
    force: bool = False  # fetch feeds even when not due


@dataclass
class IngestReport:
    sources: list[SourceReport] = field(default_factory=list)
    classified: int = 0
    stories: int = 0
    quoted: int = 0  # items whose quotations and actors were read
    alerts: dict = field(default_factory=dict)

    @property
    def items_new(self) -> int:
        return sum(s.items_new for s in self.sources)

    @property
    def items_seen(self) -> int:
        return sum(s.items_seen for s in self.sources)

    def to_dict(self) -> dict:
        return {
            "items_new": self.items_new,
            "items_seen": self.items_seen,
            "classified": self.classified,
            "stories": self.stories,
            "quoted": self.quoted,
            "alerts": self.alerts,
            "sources": [s.to_dict() for s in self.sources],
        }


def ingest_seeds(settings: Settings) -> SourceReport:
    """Read the seeds folder into the store (idempotent: seeds are keyed by file name)."""
    from flows.sources.seeds import read_seeds
    from flows.store.items import upsert_items

    if settings.seeds_dir is None:
        return SourceReport("seeds", "skipped", kind="seed", error="no seeds_dir configured")
    articles, errors = read_seeds(settings.seeds_dir)
    for err in errors:
        log.warning("seed skipped: %s", err)
    result = upsert_items(store_for(settings), articles)
    status = "ok" if not errors else ("error" if not articles else "ok")
    return SourceReport(
        "seeds", status, len(result.new_ids), len(result.seen_ids), "; ".join(errors) or None, kind="seed"
    )


def select_feeds(settings: Settings, sources: str) -> list[FeedSource]:
    feeds = all_feeds(settings)
    if sources in ("all", "feeds"):
        return feeds
    if sources == "seeds":
        return []
    chosen = [f for f in feeds if sources in (f.name, f.url)]
    if not chosen:
        raise ValueError(
            f"no feed named {sources!r} in the config (known: {', '.join(f.label for f in feeds) or 'none'})"
        )
    return chosen


def ingest_feeds(
    settings: Settings,
    feeds: list[FeedSource],
    force: bool = False,
    max_items: int | None = None,
    on_progress: ProgressFn | None = None,
) -> list[SourceReport]:
    """Fetch a batch of feeds and their articles into the store; a failing feed never raises."""
    from flows.sources.feeds import ingest_feeds as fetch_feeds

    return fetch_feeds(settings, store_for(settings), feeds, force=force, max_items=max_items, on_progress=on_progress)


def assign_pending_stories(settings: Settings) -> int:
    """Group every item not yet in a story (copies, re-filed versions and rewrites join one)."""
    from flows.stories import assign_pending

    return assign_pending(store_for(settings))


CLASSIFY_BATCH = 64


def classify_pending(settings: Settings, reclassify: bool = False) -> int:
    """Classify every item not yet classified by the current classifier version."""
    from flows.classify import classifier_for
    from flows.store.items import items_to_classify, save_classifications

    classifier = classifier_for(settings)
    store = store_for(settings)
    items = list(items_to_classify(store, classifier.version, all_items=reclassify))
    results = []
    for start in range(0, len(items), CLASSIFY_BATCH):  # one feature matrix per batch
        batch = items[start : start + CLASSIFY_BATCH]
        verdicts = classifier.classify_many([(item.title, item.text) for item in batch])
        results += [(item.id, verdict) for item, verdict in zip(batch, verdicts)]
    return save_classifications(store, results, classifier.version)


def extract_pending_quotes(settings: Settings) -> int:
    """Read the quotations (with speakers) and the listed actors of every item not yet read by
    this extractor version and actors file (see flows.quotes); returns how many items were read."""
    from flows.quotes import VERSION, extract_quotes
    from flows.quotes.speakers import actors_for, actors_version
    from flows.store.quotes import items_without_quotes, save_quotes

    store = store_for(settings)
    actors = actors_for(settings)
    version = f"{VERSION}+{actors_version(settings)}"
    done = 0
    while True:
        pending = items_without_quotes(store, version)
        if not pending:
            return done
        done += save_quotes(
            store,
            [
                (item_id, [q.to_dict() for q in extract_quotes(text)], actors.mentioned(title + "\n" + text))
                for item_id, title, text in pending
            ],
            version,
        )


def smtp_transport(settings: Settings):
    """The SMTP transport of the config, None without an SMTP host (messages wait in the outbox)."""
    from flows.deliver.smtp import SmtpConfig, SmtpTransport

    email = settings.email
    if not email.smtp_host:
        return None
    return SmtpTransport(
        SmtpConfig(
            host=email.smtp_host,
            port=email.smtp_port,
            security=email.security,
            username=email.username,
            password=smtp_password(settings),
            timeout=email.timeout,
            ca_file=email.ca_file,
            retries=email.retries,
            backoff=email.retry_backoff,
        )
    )


def alert_new_stories(settings: Settings, since: datetime) -> dict:
    """Alert the saved searches' new stories (first seen since `since`), then rewrite the feeds
    beside the archive (see flows.alerts, flows.syndication)."""
    from flows.alerts.send import send_alerts
    from flows.syndication.feeds import write_feeds

    store = store_for(settings)
    transport = smtp_transport(settings)
    try:
        report = send_alerts(store, settings, since, transport)
    finally:
        if transport is not None:
            transport.close()
    write_feeds(store, settings)
    return report.to_dict()


def run_ingest(
    settings: Settings, options: IngestOptions | None = None, step: Step = direct, on_progress: ProgressFn | None = None
) -> IngestReport:
    """Ingest the chosen sources, classify what is new, and alert saved searches' new stories."""
    from datetime import timezone

    options = options or IngestOptions()
    report = IngestReport()
    feeds = select_feeds(settings, options.sources)
    started = datetime.now(timezone.utc)
    with lease(store_for(settings), "ingest"):  # LeaseBusy if another ingest is running
        if options.sources in ("all", "seeds"):
            seeds = step(ingest_seeds, settings)
            report.sources.append(seeds)
            if on_progress:
                on_progress(seeds)
        if feeds:
            report.sources += step(ingest_feeds, settings, feeds, options.force, options.max_items, on_progress)
        report.stories = step(assign_pending_stories, settings)
        report.classified = step(classify_pending, settings)
        report.quoted = step(extract_pending_quotes, settings)
        report.alerts = step(alert_new_stories, settings, started)
    log.info("ingest: %d new, %d already stored, %d classified", report.items_new, report.items_seen, report.classified)
    return report


def split_feeds(feeds: list[FeedSource], shards: int) -> list[list[FeedSource]]:
    """Deal the feeds, sorted by URL, into at most `shards` non-empty shards of near-equal size."""
    ordered = sorted(feeds, key=lambda f: f.url)
    return [part for part in (ordered[k::shards] for k in range(max(1, shards))) if part]


def feeds_by_url(settings: Settings, urls: list[str]) -> list[FeedSource]:
    """The configured feeds with these URLs (a shard's share); ValueError naming any unknown URL."""
    known = {f.url: f for f in all_feeds(settings)}
    unknown = [u for u in urls if u not in known]
    if unknown:
        raise ValueError(f"not feeds of this config: {', '.join(unknown)}")
    return [known[u] for u in urls]


def run_feed_shard(
    settings: Settings,
    feeds: list[FeedSource],
    options: IngestOptions,
    parent_lease: str | None = None,
    step: Step = direct,
) -> IngestReport:
    """Fetch one shard of the feeds. Under a parent ingest (its lease token given) only fetch:
    the parent groups stories and classifies once all shards are in. Started on its own, it takes
    the ingest lease itself and does both too."""
    from datetime import timezone

    report = IngestReport()
    started = datetime.now(timezone.utc)
    with lease(store_for(settings), "ingest", holder=parent_lease, inherit=parent_lease is not None):
        report.sources = step(ingest_feeds, settings, feeds, options.force, options.max_items)
        if parent_lease is None:
            report.stories = step(assign_pending_stories, settings)
            report.classified = step(classify_pending, settings)
            report.quoted = step(extract_pending_quotes, settings)
            report.alerts = step(alert_new_stories, settings, started)
    log.info("feed shard: %d feeds, %d new, %d already stored", len(feeds), report.items_new, report.items_seen)
    return report


# ------------------------------------------------------------------ digest

DIGEST_LEASE_WAIT_S = 600.0


@dataclass
class DigestOptions:
    period: Literal["daily", "weekly"] | None = None  # None: the config's period
    since: datetime | None = None
    until: datetime | None = None
    issues: list[str] | None = None  # None: all issues (and "other")
    send: bool = False
    to: str | None = None  # send only to this address, all issues


@dataclass
class DigestResult:
    id: str
    html_path: Path
    text_path: Path
    index_path: Path
    n_stories: int
    n_items: int
    n_sources: int
    issue_counts: dict[str, int]
    top_issues: list[str]
    deliveries: list[dict] = field(default_factory=list)
    outbox: str | None = None  # set when messages were left in the outbox, and why
    # each section's counts and top stories, for run summaries:
    # [{"id", "name", "n_stories", "n_items", "stories": [{"title", "link", "sources"}]}]
    headlines: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "html_path": str(self.html_path),
            "text_path": str(self.text_path),
            "index_path": str(self.index_path),
            "n_stories": self.n_stories,
            "n_items": self.n_items,
            "n_sources": self.n_sources,
            "issue_counts": self.issue_counts,
            "top_issues": self.top_issues,
            "deliveries": self.deliveries,
            "outbox": self.outbox,
            "headlines": self.headlines,
        }


UNDELIVERED = ("failed", "gave_up")


def undelivered(result: dict) -> list[dict]:
    """The deliveries of a digest result (`DigestResult.to_dict()`) whose message could not be
    sent: the SMTP server refused it or was unreachable. They wait in the outbox (or were given
    up after `email.max_attempts`); messages merely queued for lack of an SMTP host are not here."""
    return [d for d in result.get("deliveries") or [] if d["status"] in UNDELIVERED]


class UndeliveredDigest(Exception):
    """The digest was written, but some of its messages were not sent. Raised by the Prefect
    flow so the run shows as failed; `result` is the digest result, delivery outcomes included."""

    def __init__(self, result: dict):
        self.result = result
        failed = undelivered(result)
        first = failed[0] if failed else {}
        super().__init__(
            f"digest {result['id']} written ({result['html_path']}), but {len(failed)} message(s) "
            f"not sent (first: {first.get('recipient')}: {first.get('error') or first.get('status')}); "
            f"{result.get('outbox') or 'see the deliveries'}"
        )


def headlines(content, per_section: int) -> list[dict]:
    """The first `per_section` stories of each section of a digest's content (already ranked)."""
    return [
        {
            "id": sec.id,
            "name": sec.name,
            "n_stories": sec.count,
            "n_items": sum(s.n_items for s in sec.stories),  # of the stories shown (the section's cap)
            "stories": [{"title": s.title, "link": s.link, "sources": s.sources} for s in sec.stories[:per_section]],
        }
        for sec in content.sections
    ]


def build_digest(settings: Settings, options: DigestOptions) -> DigestResult:
    """Select the window's stories, render HTML and text to the digests folder, record the digest."""
    from datetime import timezone

    from flows.digest.render import write_digest, write_index
    from flows.digest.select import select_content, window
    from flows.store.digests import list_digests, save_digest
    from flows.store.schema import Digest
    from flows.syndication.feeds import write_feeds

    store = store_for(settings)
    taxonomy = load_taxonomy(settings.issues_file)
    period = options.period or settings.digest.period
    ident, since, until = window(store, settings, period, options.since, options.until)
    period = period if options.since is None else "custom"
    content = select_content(store, settings, taxonomy, ident, period, since, until, options.issues)
    html_path, text_path = write_digest(content, settings.digests_dir)
    save_digest(
        store,
        Digest(
            id=ident,
            period=period,
            since=since,
            until=until,
            created_at=datetime.now(timezone.utc),
            html_path=str(html_path),
            text_path=str(text_path),
            n_stories=content.n_stories,
            n_items=content.n_items,
            n_sources=content.n_sources,
            top_issues=content.top_issues(),
            issue_counts=content.issue_counts(),
        ),
        {s.key: s.n_items for s in content.stories},
    )
    names = {i.id: i.name for i in taxonomy.issues}
    index = write_index(list_digests(store), settings.digests_dir, names, settings.schedule.timezone)
    write_feeds(store, settings)
    return DigestResult(
        ident,
        html_path,
        text_path,
        index,
        content.n_stories,
        content.n_items,
        content.n_sources,
        content.issue_counts(),
        content.top_issues(),
        headlines=headlines(content, max(1, settings.digest.top_stories)),
    )


def smtp_password(settings: Settings):
    """The SMTP password: from the environment, else the configured Prefect Secret block."""
    if settings.email.password is not None or not settings.email.password_block:
        return settings.email.password
    from flows.service.secrets import load_secret

    return load_secret(settings.email.password_block)


def deliver_digest(settings: Settings, result: DigestResult, options: DigestOptions) -> DigestResult:
    """E-mail a written digest: each recipient their issues, exactly once (see flows.deliver.outbox).

    Messages left by earlier runs go first. Without an SMTP host everything waits in
    `digests/outbox/`, and `result.outbox` says so.
    """
    from flows.config import ConfigError, Recipient
    from flows.deliver.email import build_message, message_id, to_bytes, unsubscribe_link
    from flows.deliver.outbox import Outbox
    from flows.digest.render import chart_png, render_email
    from flows.digest.select import OTHER, arrange, load_digest_data
    from flows.store.digests import get_digest
    from flows.store.items import as_utc

    email = settings.email
    store = store_for(settings)
    taxonomy = load_taxonomy(settings.issues_file)
    digest = get_digest(store, result.id)
    if digest is None:
        raise ValueError(f"digest {result.id} is not in the store")
    recipients = [Recipient(address=options.to)] if options.to else list(email.recipients)
    # A test send (`--to`) is logged under its own key: once per digest and address like any
    # delivery, but it never stands in for a subscriber's real copy of the digest.
    delivery_key = f"{digest.id}.test" if options.to else digest.id
    known = set(taxonomy.ids) | {OTHER}
    for n, r in enumerate(recipients):
        unknown = [] if r.issues == "all" else [i for i in r.issues if i not in known]
        if unknown:
            raise ConfigError(
                f"email.recipients[{n}] ({r.address}): unknown issue(s) {unknown} (known: {', '.join(sorted(known))})"
            )

    data = load_digest_data(
        store, settings, taxonomy, digest.id, digest.period, as_utc(digest.since), as_utc(digest.until)
    )
    charts: dict[frozenset | None, bytes] = {}

    def message_for(r) -> bytes:
        issues = None if r.issues == "all" else list(r.issues)
        if options.issues:
            issues = [i for i in (issues or options.issues) if i in options.issues]
        content = arrange(data, issues)
        key = None if issues is None else frozenset(issues)
        if key not in charts:
            charts[key] = chart_png(content)
        unsubscribe = unsubscribe_link(email.unsubscribe_url, r.address, email.from_address)
        rendered = render_email(content, settings.digest.archive_url, unsubscribe, charts[key])
        return to_bytes(
            build_message(
                rendered,
                from_address=email.from_address,
                to_address=r.address,
                to_name=r.name,
                digest_id=delivery_key,
                unsubscribe=unsubscribe,
            )
        )

    transport = smtp_transport(settings)
    outbox_dir = settings.digests_dir / "outbox"
    outbox = Outbox(store, outbox_dir, transport, email.from_address)
    try:
        outcomes = outbox.flush()
        flushed = {(o.digest_id, o.recipient) for o in outcomes}
        for r in recipients:
            outcome = outbox.deliver(
                delivery_key,
                r.address,
                message_id(delivery_key, r.address, email.from_address),
                lambda r=r: message_for(r),
            )
            if (outcome.digest_id, outcome.recipient) not in flushed:
                outcomes.append(outcome)
    finally:
        if transport is not None:
            transport.close()
    result.deliveries = [o.to_dict() for o in outcomes]
    waiting = [o for o in outcomes if o.status in ("queued", "failed")]
    if transport is None and waiting:
        result.outbox = (
            f"no SMTP server configured: {len(waiting)} message(s) wait in {outbox_dir} "
            f"(set email.smtp_host or USCHINA_DIGEST_SMTP_HOST to send them)"
        )
    elif waiting:
        result.outbox = f"{len(waiting)} message(s) not sent, kept in {outbox_dir} for the next run"
    for o in outcomes:
        log.debug("delivery %s → %s: %s%s", o.digest_id, o.recipient, o.status, f" ({o.error})" if o.error else "")
    return result


def run_digest(settings: Settings, options: DigestOptions | None = None, step: Step = direct) -> DigestResult:
    """Build the digest of the period, then (with `send`) e-mail it."""
    options = options or DigestOptions()
    # Digests take seconds: a second one (a second send of the same digest, say) waits for the first.
    with lease(store_for(settings), "digest", wait=DIGEST_LEASE_WAIT_S):
        result = step(build_digest, settings, options)
        if options.send or options.to:
            result = step(deliver_digest, settings, result, options)
    return result
