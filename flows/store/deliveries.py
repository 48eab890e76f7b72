"""The delivery log: one row per (digest, recipient), claimed before sending, marked sent after.

Exactly-once rests on two things here: the unique (digest_id, recipient) row, and `claim`, an
atomic conditional UPDATE, so two runs (or a retry racing a re-run) can never both send a message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from flows.store.db import Store
from flows.store.items import as_utc, utcnow
from flows.store.schema import Delivery

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


def _fix(d: Delivery | None) -> Delivery | None:
    if d is not None:
        d.updated_at, d.sent_at = as_utc(d.updated_at), as_utc(d.sent_at)
    return d


def get_delivery(store: Store, digest_id: str, recipient: str) -> Delivery | None:
    with store.session() as s:
        return _fix(
            s.scalars(select(Delivery).where(Delivery.digest_id == digest_id, Delivery.recipient == recipient)).first()
        )


def record_message(store: Store, digest_id: str, recipient: str, message_id: str, eml_path: str) -> Delivery:
    """Log a message written to the outbox as pending; an existing row is left as it is.

    Returns the row as stored, so a caller sees when another run logged it first.
    """
    with store.session() as s:
        s.execute(
            store.insert(Delivery)
            .values(
                digest_id=digest_id,
                recipient=recipient,
                status=PENDING,
                message_id=message_id,
                eml_path=eml_path,
                attempts=0,
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["digest_id", "recipient"])
        )
    row = get_delivery(store, digest_id, recipient)
    assert row is not None
    return row


def claim(store: Store, delivery_id: int, lease: timedelta, now: datetime | None = None) -> bool:
    """Take a delivery for sending: pending/failed rows, or a `sending` row whose run died.

    The conditional UPDATE is the lock: of two concurrent runs only one gets rowcount 1.
    """
    now = now or utcnow()
    with store.session() as s:
        result = s.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                (Delivery.status.in_([PENDING, FAILED]))
                | ((Delivery.status == SENDING) & (Delivery.updated_at < now - lease)),
            )
            .values(status=SENDING, attempts=Delivery.attempts + 1, updated_at=now)
        )
        return result.rowcount == 1


def mark_sent(store: Store, delivery_id: int) -> None:
    now = utcnow()
    with store.session() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=SENT, sent_at=now, updated_at=now, last_error=None)
        )


def mark_failed(store: Store, delivery_id: int, error: str) -> None:
    with store.session() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=FAILED, last_error=error[:2000], updated_at=utcnow())
        )


def release(store: Store, delivery_id: int) -> None:
    """Give a claimed row back untouched (nothing was attempted), so the next run takes it."""
    with store.session() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == SENDING)
            .values(status=PENDING, attempts=Delivery.attempts - 1, updated_at=utcnow())
        )


ALERT_PREFIX = "alert."  # delivery keys of saved-search alerts (flows.alerts); digests have others


def unsent(store: Store, alerts: bool = False) -> list[Delivery]:
    """Deliveries waiting in the outbox (never sent, or failed), oldest first: the digests'
    (default) or the alerts' (`alerts=True`), which go through their own channels."""
    with store.session() as s:
        kind = Delivery.digest_id.startswith(ALERT_PREFIX)
        q = (
            select(Delivery)
            .where(Delivery.status.in_([PENDING, FAILED, SENDING]), kind if alerts else ~kind)
            .order_by(Delivery.updated_at, Delivery.id)
        )
        return [_fix(d) for d in s.scalars(q)]


def deliveries_for(store: Store, digest_id: str) -> list[Delivery]:
    with store.session() as s:
        q = select(Delivery).where(Delivery.digest_id == digest_id).order_by(Delivery.recipient)
        return [_fix(d) for d in s.scalars(q)]
