"""SMTP sending with `none`, `starttls` or `ssl`, retries with backoff, and secrets kept out of errors.

One connection serves a whole run. A transient failure (connection refused or dropped, timeout,
a 4xx reply) closes it and tries again after a growing pause; a permanent one (a 5xx reply, a
refused login) does not. Once the server could not be reached through every retry, the transport
stays down for the rest of the run, so a dead server costs one backoff, not one per recipient.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pydantic import SecretStr

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A message could not be sent; `permanent` when trying again will not help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # none | starttls | ssl
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = 30.0
    ca_file: Path | None = None  # trust this CA (a private relay); default: the system's
    retries: int = 3  # tries per message, the first included
    backoff: float = 2.0  # seconds before the second try, doubled each time

    def __repr__(self) -> str:  # the password never shows, even in a traceback's locals
        return f"SmtpConfig(host={self.host!r}, port={self.port}, security={self.security!r}, user={self.username!r})"


def redact(text: str, secret: SecretStr | None) -> str:
    """`text` without the secret, plain or in the base64 forms SMTP AUTH would carry it in."""
    if secret is None or not secret.get_secret_value():
        return text
    value = secret.get_secret_value()
    forms = {value, base64.b64encode(value.encode()).decode()}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _permanent(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError))


class SmtpTransport:
    """A reusable connection to one SMTP server; use as a context manager."""

    def __init__(self, config: SmtpConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._sleep = sleep
        self._conn: smtplib.SMTP | None = None
        self._down: str | None = None

    def __enter__(self) -> "SmtpTransport":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.config.ca_file:
            ctx.load_verify_locations(cafile=str(self.config.ca_file))
        return ctx

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._tls())
        else:
            conn = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        try:
            conn.ehlo()
            if c.security == "starttls":
                conn.starttls(context=self._tls())
                conn.ehlo()
            if c.username:
                _login(conn, c.username, c.password.get_secret_value() if c.password else "")
        except BaseException:
            _quit(conn)
            raise
        return conn

    def close(self) -> None:
        if self._conn is not None:
            _quit(self._conn)
            self._conn = None

    def send(self, from_address: str, to_address: str, data: bytes) -> None:
        """Send one message, retrying transient failures; raises `DeliveryError` (secret-free)."""
        if self._down:
            raise DeliveryError(f"not tried: {self._down}")
        tries = max(1, self.config.retries)
        for attempt in range(1, tries + 1):
            reached = False
            try:
                if self._conn is None:
                    self._conn = self._connect()
                reached = True
                refused = self._conn.sendmail(from_address, [to_address], data)
                if refused:
                    raise smtplib.SMTPRecipientsRefused(refused)
                return
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                message = redact(f"{type(exc).__name__}: {exc}", self.config.password)
                if _permanent(exc) or attempt == tries:
                    if not reached and not _permanent(exc):
                        self._down = f"SMTP server {self.config.host}:{self.config.port} unreachable ({message})"
                    raise DeliveryError(message, permanent=_permanent(exc)) from None
                delay = self.config.backoff * 2 ** (attempt - 1)
                log.warning(
                    "SMTP try %d/%d to %s failed (%s); again in %.1f s", attempt, tries, to_address, message, delay
                )
                self._sleep(delay)


def _login(conn: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH with one mechanism, PLAIN where offered (then LOGIN), so a refused password is one
    refusal rather than a walk through every mechanism the server lists."""
    offered = (conn.esmtp_features.get("auth") or "").upper().split()
    if not conn.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("the SMTP server offers no AUTH, but a username is configured")
    conn.user, conn.password = username, password
    for name, method in (("PLAIN", conn.auth_plain), ("LOGIN", conn.auth_login)):
        if name in offered:
            conn.auth(name, method)
            return
    conn.login(username, password)


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()
