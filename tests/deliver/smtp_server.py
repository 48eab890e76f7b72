"""A real SMTP server for tests (aiosmtpd on 127.0.0.1) and email settings that point at it."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Inbox:
    """What the SMTP server accepted, and the AUTH logins it saw."""

    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]


class SmtpServer:
    """An aiosmtpd controller on 127.0.0.1 that can be started and stopped on a fixed port."""

    def __init__(self, port: int | None = None, **kwargs) -> None:
        self.port = port or free_port()
        self.inbox = Inbox()
        self.kwargs = kwargs
        self.controller = None

    def start(self) -> "SmtpServer":
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **self.kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


RECIPIENTS = [
    {"address": "all@example.org", "name": "Ann All"},
    {"address": "taiwan@example.org", "name": "Tai Watcher", "issues": ["taiwan", "military"]},
    {"address": "trade@example.org", "issues": ["trade", "technology"]},
]


def configure(settings, server: SmtpServer | None = None, **email):
    """Point the settings' email at `server` (None: no SMTP) with three recipients."""
    from flows.config import EmailSettings

    values = dict(
        smtp_host="127.0.0.1" if server else None,
        smtp_port=server.port if server else 587,
        security="none",
        from_address="digest@news.example.org",
        recipients=RECIPIENTS,
        unsubscribe_url="https://news.example.org/unsubscribe?u={address}",
        retries=2,
        retry_backoff=0.01,
        timeout=5,
    )
    values.update(email)
    settings.email = EmailSettings(**values)
    settings.digest.archive_url = "https://news.example.org/digests/"
    return settings
