"""Per-feed fetch state and health: validators, schedule, backoff, and the `feeds` table.

The scheduling rules are plain functions on `FeedState` so they can be reasoned about (and
tested) without a database; `load_states` and `save_state` are the only SQL.

- A feed is due when it has no `next_due` or that time has come (with a little grace so a run
  on a fixed schedule is not skipped for being a few seconds early).
- After a success (200 or 304), the next fetch waits at least the interval the publisher asked
  for (Cache-Control max-age, Expires, RSS `<ttl>`, `sy:updatePeriod`), capped at a day.
- After a failure, it waits `BACKOFF_BASE_S * 2**(failures-1)`, capped at `BACKOFF_MAX_S`, and
  never less than the server's Retry-After.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Sequence

from sqlalchemy import select

from flows.store.db import Store
from flows.store.items import as_utc
from flows.store.schema import Feed

DUE_GRACE = timedelta(minutes=2)
BACKOFF_BASE_S = 10 * 60
BACKOFF_MAX_S = 24 * 3600
MIN_INTERVAL_CAP_S = 24 * 3600


@dataclass
class FeedState:
    url: str
    name: str | None = None
    title: str | None = None
    resolved_url: str | None = None  # where the feed really is (HTML discovery, permanent redirect)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_fetch: datetime | None = None
    last_success: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    parse_problem: str | None = None
    consecutive_failures: int = 0
    next_due: datetime | None = None
    min_interval_s: int | None = None
    items_total: int = 0

    @property
    def fetch_url(self) -> str:
        return self.resolved_url or self.url


def is_due(state: FeedState, now: datetime) -> bool:
    return state.next_due is None or as_utc(state.next_due) <= now + DUE_GRACE


def backoff_seconds(consecutive_failures: int) -> int:
    """Exponential backoff: 10 min, 20 min, 40 min, … up to a day."""
    if consecutive_failures <= 0:
        return 0
    return min(BACKOFF_BASE_S * 2 ** min(consecutive_failures - 1, 20), BACKOFF_MAX_S)


def mark_success(
    state: FeedState, now: datetime, *, status: int, min_interval_s: int | None, new_items: int = 0
) -> None:
    """A 200 or 304: the feed is healthy; next fetch no sooner than the publisher asked."""
    state.last_fetch = state.last_success = now
    state.last_status = status
    state.last_error = None
    state.consecutive_failures = 0
    if min_interval_s is not None:
        state.min_interval_s = min(max(int(min_interval_s), 0), MIN_INTERVAL_CAP_S)
    state.next_due = now + timedelta(seconds=state.min_interval_s or 0)
    state.items_total += new_items


def mark_failure(
    state: FeedState, now: datetime, *, error: str, status: int | None = None, retry_after_s: float | None = None
) -> None:
    """A failed fetch or an unreadable feed: count it and back off."""
    state.last_fetch = now
    state.last_status = status
    state.last_error = error
    state.consecutive_failures += 1
    wait = max(backoff_seconds(state.consecutive_failures), retry_after_s or 0, state.min_interval_s or 0)
    state.next_due = now + timedelta(seconds=wait)


# ---------------------------------------------------------------- SQL

_COLUMNS = [f.name for f in fields(FeedState)]
_TIMES = {"last_fetch", "last_success", "next_due"}


def _to_state(row: Feed) -> FeedState:
    values = {name: getattr(row, name) for name in _COLUMNS}
    for name in _TIMES:
        values[name] = as_utc(values[name])
    values["consecutive_failures"] = values["consecutive_failures"] or 0
    values["items_total"] = values["items_total"] or 0
    return FeedState(**values)


def load_states(store: Store, urls: Sequence[str]) -> dict[str, FeedState]:
    """The stored state of each URL; a feed never fetched gets a fresh state."""
    states = {url: FeedState(url=url) for url in urls}
    with store.session() as s:
        for start in range(0, len(urls), 500):
            chunk = list(urls[start : start + 500])
            for row in s.scalars(select(Feed).where(Feed.url.in_(chunk))):
                states[row.url] = _to_state(row)
    return states


def save_state(store: Store, state: FeedState) -> None:
    with store.session() as s:
        row = s.get(Feed, state.url)
        if row is None:
            row = Feed(url=state.url)
            s.add(row)
        for name, value in asdict(state).items():
            setattr(row, name, value)


def all_states(store: Store) -> list[FeedState]:
    with store.session() as s:
        return [_to_state(row) for row in s.scalars(select(Feed).order_by(Feed.url))]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds") if value else None


def feed_health(store: Store, configured: Sequence | None = None, now: datetime | None = None) -> list[dict]:
    """One row per feed for `uschina-digest feeds`: is it healthy, when is it next due.

    With `configured` (objects with `.url` and `.name`, e.g. `FeedSource`s), rows follow the
    configuration's order, feeds never fetched are included, and stored feeds no longer in the
    configuration come last with `configured: False`.
    """
    now = now or datetime.now(timezone.utc)
    stored = {st.url: st for st in all_states(store)}
    if configured is None:
        order = [(url, None, True) for url in stored]
    else:
        names = {f.url: f.name for f in configured}
        order = [(f.url, f.name, True) for f in configured]
        order += [(url, None, False) for url in stored if url not in names]
    rows = []
    for url, name, is_configured in order:
        st = stored.get(url) or FeedState(url=url, name=name)
        if st.consecutive_failures:
            health = "failing"
        elif st.last_success is None:
            health = "never fetched"
        else:
            health = "ok"
        rows.append(
            {
                "url": st.url,
                "name": name or st.name or st.title or st.url,
                "health": health,
                "last_success": _iso(st.last_success),
                "last_status": st.last_status,
                "last_error": st.last_error,
                "parse_problem": st.parse_problem,
                "consecutive_failures": st.consecutive_failures,
                "next_due": _iso(st.next_due),
                "due_now": is_due(st, now),
                "items_total": st.items_total,
                "resolved_url": st.resolved_url,
                "configured": is_configured,
            }
        )
    return rows
