"""The feeds a config lists: `feeds:` in pipeline.yaml, then the `feeds_opml` file's.

Here, not on `Settings`, so the config does not import the OPML reader that imports the config.
"""

from __future__ import annotations

from flows.config import FeedSource, Settings
from flows.sources.opml import read_opml


def configured_feeds(settings: Settings) -> list[FeedSource]:
    """Every configured feed, disabled ones too (YAML list, then the OPML file's new URLs). Raises ConfigError."""
    feeds = list(settings.feeds)
    if settings.feeds_opml:
        known = {f.url for f in feeds}
        feeds += [f for f in read_opml(settings.feeds_opml) if f.url not in known]
    return feeds


def all_feeds(settings: Settings) -> list[FeedSource]:
    """The feeds a run reads: the configured ones that are enabled."""
    return [f for f in configured_feeds(settings) if f.enabled]
