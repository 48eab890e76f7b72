"""Tables. Every table the pipeline uses is declared here, so one `create_all` builds the store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(Text)  # identity key the id derives from
    source: Mapped[str] = mapped_column(String(300), index=True)
    source_kind: Mapped[str] = mapped_column(String(16))  # seed | feed
    feed_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    url: Mapped[str] = mapped_column(Text)  # canonical URL or seed file name
    guid: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    summary_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    published: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    undated: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    author: Mapped[str | None] = mapped_column(Text, nullable=True)
    site_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    extraction: Mapped[str] = mapped_column(String(32), default="source")
    extraction_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    # classification (null until classified)
    relevant: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    relevance: Mapped[float | None] = mapped_column(Float, nullable=True)
    classified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    classifier_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # story grouping (null until assigned)
    story_id: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)


class ItemIssue(Base):
    """An issue label on an item: from the classifier (`origin="model"`) or an analyst's correction."""

    __tablename__ = "item_issues"

    item_id: Mapped[str] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    issue_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list] = mapped_column(JSON, default=list)
    origin: Mapped[str] = mapped_column(String(16), default="model")


class ItemQuotes(Base):
    """An item's quotations with their speakers, and the listed actors it names (flows.quotes).

    One row per item, replaced whole when the extractor's version (or the actors file) changes,
    so re-running never duplicates a quote. A table of its own: stores made before it gain it
    from `create_all`, with no change to `items`."""

    __tablename__ = "item_quotes"

    item_id: Mapped[str] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    quotes: Mapped[list] = mapped_column(JSON, default=list)  # [{speaker, role, text, start, end}]
    actors: Mapped[dict] = mapped_column(JSON, default=dict)  # actor name -> mentions in the item


class Correction(Base):
    """An analyst's correction of an item's labels; overrides the model and trains the next fit."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    issue_id: Mapped[str] = mapped_column(String(64))  # an issue id, or "relevant"
    action: Mapped[str] = mapped_column(String(8))  # add | remove
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Story(Base):
    __tablename__ = "stories"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    representative_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    n_items: Mapped[int] = mapped_column(Integer, default=1)


class StoryFingerprint(Base):
    """An item's text fingerprint and story, written when the item is assigned to a story.

    Its presence marks the item as assigned (assignment is idempotent); `at` is the time matching
    uses (publication, else first seen) and `day` its day number for the windowed term index.
    """

    __tablename__ = "story_fingerprints"

    item_id: Mapped[str] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    story_id: Mapped[str] = mapped_column(String(32))  # read with the row, never searched by
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    day: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class StoryKey(Base):
    """Exact identity keys (canonical URL, feed guid, content hash) of assigned items."""

    __tablename__ = "story_keys"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the row: one B-tree, not two

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(32))


class StoryBand(Base):
    """MinHash LSH band keys of assigned items by day: the persistent near-duplicate index.

    Keyed by period (a run of days, `flows.store.stories.PERIOD_DAYS`) first, so a batch of new
    items writes into one small region of the table instead of rewriting pages all over it.
    """

    __tablename__ = "story_bands"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the row: one B-tree, not two

    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    band: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class StoryTerm(Base):
    """Salient terms of assigned items by day: the persistent, time-windowed rewrite index (keyed by
    period first, like `StoryBand`)."""

    __tablename__ = "story_terms"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the row: one B-tree, not two

    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class PageRetry(Base):
    """A stored item whose article page could not be had for a temporary reason (the server was
    down, slow, or asked us to wait): its page is tried again in later runs, with growing delays."""

    __tablename__ = "page_retries"

    item_id: Mapped[str] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)  # tries so far, the first included
    next_attempt: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_error: Mapped[str] = mapped_column(Text)


class Feed(Base):
    """Per-feed fetch state and health."""

    __tablename__ = "feeds"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # after HTML discovery
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_modified: Mapped[str | None] = mapped_column(Text, nullable=True)
    body_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_fetch: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_success: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    parse_problem: Mapped[str | None] = mapped_column(Text, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    min_interval_s: Mapped[int | None] = mapped_column(Integer, nullable=True)  # TTL / Cache-Control
    items_total: Mapped[int] = mapped_column(Integer, default=0)


class Digest(Base):
    __tablename__ = "digests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. daily-2026-11-22
    period: Mapped[str] = mapped_column(String(16), index=True)  # daily | weekly | custom
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    html_path: Mapped[str] = mapped_column(Text)
    text_path: Mapped[str] = mapped_column(Text)
    n_stories: Mapped[int] = mapped_column(Integer, default=0)
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    n_sources: Mapped[int] = mapped_column(Integer, default=0)
    top_issues: Mapped[list] = mapped_column(JSON, default=list)
    issue_counts: Mapped[dict] = mapped_column(JSON, default=dict)


class DigestStory(Base):
    """Which stories (or items without a story) a digest covered, so the next one does not repeat them."""

    __tablename__ = "digest_stories"

    digest_id: Mapped[str] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True)
    story_key: Mapped[str] = mapped_column(String(32), primary_key=True)  # story id, else item id
    n_items: Mapped[int] = mapped_column(Integer, default=1)


class Delivery(Base):
    """The delivery log: one row per (digest, recipient); the guard against sending twice."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("digest_id", "recipient"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest_id: Mapped[str] = mapped_column(String(64), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | failed
    message_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    eml_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Lock(Base):
    """Named leases so two ingests (or two sends of one digest) never overlap."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


Index("ix_items_published", Item.published)
