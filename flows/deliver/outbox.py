"""Exactly-once delivery through an outbox folder and the `deliveries` log.

For each (digest, recipient):
1. If the log already has a row, this run builds nothing: the message was sent, or it waits in
   the outbox (sent by `flush` at the start of a run, once).
2. Otherwise the message is written to `outbox/<digest>--<recipient>.eml` first, then logged as
   `pending` (insert-if-absent on the unique key).
3. The row is claimed (`pending`/`failed` → `sending`, an atomic conditional UPDATE), the stored
   bytes are sent, the row is marked `sent` and the file removed. On failure the row is `failed`
   with the (secret-free) error and the file stays for the next run.

A run that dies mid-send leaves `sending`; after `lease` the next run takes it again, re-sending
the same bytes with the same Message-ID (the only window in which a duplicate is possible).
With no SMTP transport, messages are written and logged and wait for one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable

from flows.deliver.smtp import DeliveryError, SmtpTransport
from flows.digest.render import write_atomic
from flows.store import Store
from flows.store.deliveries import (
    FAILED,
    PENDING,
    SENT,
    claim,
    get_delivery,
    mark_failed,
    mark_sent,
    record_message,
    unsent,
)
from flows.store.schema import Delivery

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


@dataclass
class Outcome:
    digest_id: str
    recipient: str
    status: str  # sent | already_sent | queued | failed | busy | gave_up
    message_id: str | None = None
    eml_path: str | None = None
    error: str | None = None
    attempts: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class Outbox:
    """The outbox folder plus the delivery log, sending through `transport` (None: only queue)."""

    def __init__(
        self,
        store: Store,
        folder: Path,
        transport: SmtpTransport | None,
        from_address: str,
        lease: timedelta = timedelta(minutes=15),
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.store, self.folder, self.transport = store, folder, transport
        self.from_address, self.lease, self.max_attempts = from_address, lease, max_attempts

    def path_for(self, digest_id: str, recipient: str) -> Path:
        slug = re.sub(r"[^a-z0-9]+", "-", recipient.lower()).strip("-")[:60]
        tag = hashlib.sha256(recipient.lower().encode()).hexdigest()[:8]
        return self.folder / f"{digest_id}--{slug}-{tag}.eml"

    def flush(self) -> list[Outcome]:
        """Send what earlier runs left in the outbox, each message once."""
        if self.transport is None:
            return []
        return [self._send(row) for row in unsent(self.store)]

    def deliver(self, digest_id: str, recipient: str, message_id: str, build: Callable[[], bytes]) -> Outcome:
        """Deliver one digest to one recipient unless the log says it was already handled."""
        row = get_delivery(self.store, digest_id, recipient)
        if row is not None:
            return self._outcome(row, "already_sent" if row.status == SENT else None)
        path = self.path_for(digest_id, recipient)
        write_atomic(path, build(), mode=0o600)  # addresses are personal data
        row = record_message(self.store, digest_id, recipient, message_id, str(path))
        if self.transport is None:
            return self._outcome(row, "queued")
        return self._send(row)

    def _send(self, row: Delivery) -> Outcome:
        if row.status == FAILED and row.attempts >= self.max_attempts:
            return self._outcome(row, "gave_up")
        if not claim(self.store, row.id, self.lease):
            return self._outcome(get_delivery(self.store, row.digest_id, row.recipient) or row, "busy")
        path = Path(row.eml_path or "")
        try:
            data = path.read_bytes()
        except OSError as e:
            mark_failed(self.store, row.id, f"outbox file unreadable: {e}")
            return self._outcome(get_delivery(self.store, row.digest_id, row.recipient), "failed")
        try:
            assert self.transport is not None
            self.transport.send(self.from_address, row.recipient, data)
        except DeliveryError as e:
            mark_failed(self.store, row.id, str(e))
            log.warning("delivery of %s to %s failed (%s); kept in %s", row.digest_id, row.recipient, e, path)
            return self._outcome(get_delivery(self.store, row.digest_id, row.recipient), "failed")
        mark_sent(self.store, row.id)
        path.unlink(missing_ok=True)
        log.info("sent %s to %s", row.digest_id, row.recipient)
        return self._outcome(get_delivery(self.store, row.digest_id, row.recipient), "sent")

    @staticmethod
    def _outcome(row: Delivery, status: str | None) -> Outcome:
        status = status or {PENDING: "queued", FAILED: "failed", SENT: "sent"}.get(row.status, "busy")
        eml = row.eml_path if row.status != SENT else None
        return Outcome(row.digest_id, row.recipient, status, row.message_id, eml, row.last_error, row.attempts)
