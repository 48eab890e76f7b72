"""CSRF tokens for the reader's one form ("wrong label?"): an HMAC of the item id under a secret
kept in the data folder, so a page from another site cannot forge a correction; and an Origin /
Sec-Fetch-Site check on every POST besides."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


def load_secret(folder: Path) -> bytes:
    """The reader's secret (32 random bytes, made once, readable by the owner only)."""
    path = folder / "web-secret.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        folder.mkdir(parents=True, exist_ok=True)
        value = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value.hex())
        return value


def token(secret: bytes, purpose: str) -> str:
    return hmac.new(secret, purpose.encode("utf-8"), hashlib.sha256).hexdigest()


def valid(secret: bytes, purpose: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(token(secret, purpose), given)


def same_origin(headers, host: str) -> bool:
    """A POST from this site's own page. Browsers say where a request comes from in
    Sec-Fetch-Site (same-origin, or none when typed); older ones only in Origin, which must then
    name this host. A client that sends neither is no browser a page could drive (the token
    still has to match)."""
    site = headers.get("sec-fetch-site")
    if site:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and origin.split("://", 1)[-1] == host
