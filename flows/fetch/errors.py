"""The one error a fetch raises, shared by the client and robots.txt (which the client consults).

Kept apart from `client` so `robots` can catch it without importing the client that imports it.
"""

from __future__ import annotations

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(Exception):
    """A fetch that did not produce a usable response, with a one-line reason.

    `kind` is one of: refused (SSRF guard, bad scheme), timeout, too_large, redirects, http,
    network, robots, deferred (the host asked us to wait longer than a run should).
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retry_after: float | None = None,
        temporary: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.url = url
        self.status = status
        self.retry_after = retry_after
        self._temporary = temporary

    @property
    def transient(self) -> bool:
        """Worth one more try within this run (a dropped connection, a 5xx, a 429)."""
        return self.kind == "network" or (self.kind == "http" and self.status in TRANSIENT_STATUSES)

    @property
    def temporary(self) -> bool:
        """Worth trying again in a later run: the server was down, slow or asked us to wait, as
        opposed to a refusal, a 404 or a page too large, which the next run would meet again."""
        return self._temporary or self.transient or self.kind in ("timeout", "deferred")
