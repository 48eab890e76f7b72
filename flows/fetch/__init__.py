"""Fetching from the web: a polite, bounded, SSRF-guarded HTTP client (no parsing here)."""

from flows.fetch.client import FEED_ACCEPT, PAGE_ACCEPT, Fetcher, FetchResult
from flows.fetch.errors import FetchError

__all__ = ["FEED_ACCEPT", "PAGE_ACCEPT", "FetchError", "FetchResult", "Fetcher"]
