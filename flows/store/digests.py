"""Digest records: what each digest covered, so the next one neither repeats nor misses a story."""

from __future__ import annotations


from sqlalchemy import delete, select

from flows.store.db import Store
from flows.store.items import as_utc
from flows.store.schema import Digest, DigestStory


def previous_digest(store: Store, period: str, before_id: str | None = None) -> Digest | None:
    """The newest digest of a period other than `before_id` (the watermark for the next window)."""
    with store.session() as s:
        q = select(Digest).where(Digest.period == period)
        if before_id:
            q = q.where(Digest.id != before_id)
        d = s.scalars(q.order_by(Digest.until.desc()).limit(1)).first()
    if d is not None:
        d.since, d.until, d.created_at = as_utc(d.since), as_utc(d.until), as_utc(d.created_at)
    return d


def get_digest(store: Store, digest_id: str) -> Digest | None:
    with store.session() as s:
        return s.get(Digest, digest_id)


def covered_story_keys(store: Store, exclude_digest: str | None = None) -> dict[str, int]:
    """story key -> item count already shown, over all digests but one (re-rendering replaces it)."""
    with store.session() as s:
        q = select(DigestStory.story_key, DigestStory.n_items)
        if exclude_digest:
            q = q.where(DigestStory.digest_id != exclude_digest)
        out: dict[str, int] = {}
        for key, n in s.execute(q):
            out[key] = max(out.get(key, 0), n)
        return out


def save_digest(store: Store, digest: Digest, stories: dict[str, int]) -> None:
    """Insert or replace a digest and the stories it covered (re-running a period replaces it)."""
    with store.session() as s:
        s.execute(delete(DigestStory).where(DigestStory.digest_id == digest.id))
        s.merge(digest)
        s.flush()
        for key, n in stories.items():
            s.add(DigestStory(digest_id=digest.id, story_key=key, n_items=n))


def list_digests(store: Store) -> list[Digest]:
    with store.session() as s:
        return list(s.scalars(select(Digest).order_by(Digest.until.desc(), Digest.id.desc())))


def digest_story_keys(store: Store, digest_id: str) -> list[str]:
    """The story keys a digest covered."""
    with store.session() as s:
        return list(
            s.scalars(
                select(DigestStory.story_key).where(DigestStory.digest_id == digest_id).order_by(DigestStory.story_key)
            )
        )
