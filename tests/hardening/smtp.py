"""An aiosmtpd handler for fault tests: refuses RCPT for chosen addresses, or at random with a
seed, optionally slowly; records every message it accepts."""

from __future__ import annotations

import email
import random
import threading
from collections import Counter
from email import policy

from tests.deliver.smtp_server import SmtpServer


class Handler:
    """aiosmtpd handler: refuses RCPT for chosen addresses (with a chosen code), accepts the rest,
    optionally slowly; records every accepted message."""

    def __init__(self, refuse: dict[str, str] | None = None, delay_s: float = 0.0, seed: int = 0) -> None:
        self.refuse = dict(refuse or {})
        self.delay_s = delay_s
        self.fault_rate = 0.0  # chance of a "451 try again" for any recipient
        self.faults = 0
        self._rng = random.Random(seed)
        self.messages: list[tuple[list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        if self.fault_rate and self._rng.random() < self.fault_rate:
            self.faults += 1
            return "451 4.3.0 Temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay_s:
            import asyncio

            await asyncio.sleep(self.delay_s)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    def received(self) -> Counter:
        return Counter(r for rcpts, _ in self.messages for r in rcpts)

    def received_pairs(self) -> Counter:
        """(digest id, recipient) -> messages received."""
        out: Counter = Counter()
        for rcpts, data in self.messages:
            digest = email.message_from_bytes(data, policy=policy.default)["X-Digest-Id"]
            for r in rcpts:
                out[(digest, r)] += 1
        return out

    def message_ids(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for rcpts, data in self.messages:
            mid = email.message_from_bytes(data, policy=policy.default)["Message-ID"]
            for r in rcpts:
                out.setdefault(r, set()).add(mid)
        return out


def serve(handler: Handler, port: int | None = None) -> SmtpServer:
    server = SmtpServer(port=port)
    server.inbox = handler
    return server.start()
