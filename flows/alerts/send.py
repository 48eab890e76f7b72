"""Alert new stories that match a saved search: once per story per alert, by e-mail or webhook.

After each ingest, the stories it created (first seen since it began) are searched with every
saved search. Each (alert, story, recipient) is one row of the digest's delivery log, keyed
`alert.<name>.<story>`: a story already alerted (or one that only gained a source, which is not
new) is never sent again. A message goes through the outbox like a digest: written to
`digests/outbox/` first, logged pending, claimed by an atomic update, sent, marked sent. When more
than `batch_over` new stories match one alert in one run, one message carries them all (its rows
share one outbox file, sent once). Failed sends wait for the next run (`flush`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from pathlib import Path

from markupsafe import escape

from flows.alerts.config import Alert, AlertsFile, load_alerts
from flows.config import Settings
from flows.deliver.email import SENDER_NAME, message_id
from flows.deliver.smtp import DeliveryError
from flows.digest.render import write_atomic
from flows.search.query import Query
from flows.search.results import run_query
from flows.store import Store
from flows.store.deliveries import (
    ALERT_PREFIX,
    FAILED,
    SENT,
    claim,
    get_delivery,
    mark_failed,
    mark_sent,
    record_message,
    unsent,
)
from flows.store.search import new_story_ids
from flows.syndication.cards import Card, cards

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 5
MAX_NEW_STORIES = 500


@dataclass
class AlertReport:
    sent: list[dict] = field(default_factory=list)  # {"alert", "recipient", "stories", "status", "error"}

    @property
    def n_sent(self) -> int:
        return sum(1 for s in self.sent if s["status"] == "sent")

    def to_dict(self) -> dict:
        return {"messages": self.sent, "sent": self.n_sent}


def delivery_key(alert: Alert, story_key: str) -> str:
    return f"{ALERT_PREFIX}{alert.name}.{story_key}"


class WebhookTransport:
    """POSTs a stored JSON body to the alert's webhook URL (Slack's incoming-webhook format)."""

    def __init__(self, alerts: AlertsFile, timeout: float = 15.0) -> None:
        self.urls = {a.webhook_recipient: a.webhook_url() for a in alerts.alerts if a.channel == "webhook"}
        self.timeout = timeout

    def send(self, _from: str, recipient: str, data: bytes) -> None:
        import httpx

        url = self.urls.get(recipient)
        if not url:
            raise DeliveryError(f"{recipient}: no webhook URL configured (alerts.yaml url, or its url_env unset)")
        try:
            response = httpx.post(
                url,
                content=data,
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as e:
            raise DeliveryError(f"{recipient}: webhook unreachable ({type(e).__name__})") from None
        if response.status_code >= 300:
            raise DeliveryError(f"{recipient}: webhook answered HTTP {response.status_code}")


# ------------------------------------------------------------------ messages


def _subject(alert: Alert, found: list[Card]) -> str:
    if len(found) == 1:
        return f"Alert · {alert.name}: {found[0].title}"[:200]
    return f"Alert · {alert.name}: {len(found)} new stories"


def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_body(alert: Alert, found: list[Card], names: dict[str, str]) -> bytes:
    """Slack-compatible JSON: `text` (the fallback every client shows) and one section per story."""
    lines, blocks = [], []
    for c in found:
        title = _slack(c.title)
        head = f"<{c.link}|{title}>" if c.link else f"*{title}*"
        meta = _slack(", ".join(c.sources) + (" · " + ", ".join(names.get(i, i) for i in c.issues) if c.issues else ""))
        lines.append(f"{head} ({meta})")
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{head}\n{meta}\n{_slack(c.summary)[:500]}"}}
        )
    text = f"Saved search *{_slack(alert.name)}*: " + ("\n".join(lines) if len(lines) > 1 else lines[0])
    return json.dumps({"text": text, "blocks": blocks[:50]}, ensure_ascii=False).encode("utf-8")


def email_body(alert: Alert, found: list[Card], names: dict[str, str], from_address: str, to: str, key: str) -> bytes:
    """text/plain and an escaped text/html twin."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((SENDER_NAME, from_address))
    msg["To"] = to
    msg["Subject"] = _subject(alert, found)
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = message_id(key, to, from_address)
    msg["X-Alert"] = alert.name
    text, html = [f"New stories matching your saved search {alert.name!r} ({alert.query}):", ""], []
    for c in found:
        issues = ", ".join(names.get(i, i) for i in c.issues)
        text += [
            c.title,
            f"  {', '.join(c.sources)}" + (f" · {issues}" if issues else ""),
            *([f"  {c.summary}"] if c.summary else []),
            *([f"  {c.link}"] if c.link else []),
            "",
        ]
        title = f'<a href="{escape(c.link)}">{escape(c.title)}</a>' if c.link else f"<b>{escape(c.title)}</b>"
        html.append(
            f"<li>{title}<br><small>{escape(', '.join(c.sources))}{' · ' + str(escape(issues)) if issues else ''}"
            f"</small><p>{escape(c.summary)}</p></li>"
        )
    msg.set_content("\n".join(text), charset="utf-8")
    msg.add_alternative(
        f"<!doctype html><html><body><p>New stories matching your saved search "
        f"<b>{escape(alert.name)}</b> ({escape(alert.query)}):</p><ul>{''.join(html)}</ul>"
        "</body></html>",
        subtype="html",
        charset="utf-8",
    )
    return msg.as_bytes(policy=SMTP)


# ------------------------------------------------------------------ sending


def _file(outbox: Path, key: str, recipient: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", recipient.lower()).strip("-")[:40]
    tag = hashlib.sha256(f"{key}\n{recipient}".encode()).hexdigest()[:10]
    return outbox / f"{key}--{slug}-{tag}.{'json' if recipient.startswith('webhook:') else 'eml'}"


def _send_file(store: Store, rows: list, transport, from_address: str) -> dict:
    """Send one outbox file once for all the rows that share it; mark them all."""
    first = rows[0]
    claimed = [r for r in rows if not (r.status == FAILED and r.attempts >= MAX_ATTEMPTS) and claim(store, r.id, LEASE)]
    outcome = {
        "alert": first.digest_id.removeprefix(ALERT_PREFIX).split(".", 1)[0],
        "recipient": first.recipient,
        "stories": [r.digest_id for r in rows],
        "status": "busy",
        "error": None,
    }
    if not claimed:
        if all(r.status == FAILED and r.attempts >= MAX_ATTEMPTS for r in rows):
            return {**outcome, "status": "gave_up", "error": first.last_error}
        return outcome
    path = Path(first.eml_path or "")
    try:
        transport.send(from_address, first.recipient, path.read_bytes())
    except (DeliveryError, OSError) as e:
        for r in claimed:
            mark_failed(store, r.id, str(e))
        log.warning("alert %s to %s not sent (%s); kept in %s", first.digest_id, first.recipient, e, path)
        return {**outcome, "status": "failed", "error": str(e)}
    for r in claimed:
        mark_sent(store, r.id)
    path.unlink(missing_ok=True)
    return {**outcome, "status": "sent"}


def _transport_for(recipient: str, smtp, webhook):
    return webhook if recipient.startswith("webhook:") else smtp


def flush(store: Store, smtp, webhook, from_address: str) -> list[dict]:
    """Send the alert messages earlier runs left unsent (each file once)."""
    groups: dict[str, list] = {}
    for row in unsent(store, alerts=True):
        groups.setdefault(row.eml_path or str(row.id), []).append(row)
    out = []
    for rows in groups.values():
        transport = _transport_for(rows[0].recipient, smtp, webhook)
        if transport is not None:
            out.append(_send_file(store, rows, transport, from_address))
    return out


def send_alerts(store: Store, settings: Settings, since: datetime, smtp=None) -> AlertReport:
    """Alert the stories first seen since `since` that match a saved search (see the module)."""
    from flows.config import load_taxonomy

    config = load_alerts(settings)
    report = AlertReport()
    if not config.alerts:
        return report
    names = {i.id: i.name for i in load_taxonomy(settings.issues_file).issues}
    webhook = WebhookTransport(config)
    from_address = settings.email.from_address
    outbox = settings.digests_dir / "outbox"
    report.sent += flush(store, smtp, webhook, from_address)
    fresh = new_story_ids(store, since)[:MAX_NEW_STORIES]
    if not fresh:
        return report
    for alert in config.alerts:
        q: Query = alert.parsed
        q.stories = list(fresh)
        matched = [s.key for s in run_query(store, q, len(fresh)).stories]
        if not matched:
            continue
        recipients = alert.recipients if alert.channel == "email" else [alert.webhook_recipient]
        for recipient in recipients:
            todo = [k for k in matched if get_delivery(store, delivery_key(alert, k), recipient) is None]
            if not todo:
                continue
            found = cards(store, todo)
            groups = [found] if len(found) > config.batch_over else [[c] for c in found]
            for group in groups:
                keys = [delivery_key(alert, c.key) for c in group]
                file_key = (
                    keys[0]
                    if len(keys) == 1
                    else f"{ALERT_PREFIX}{alert.name}.batch-" + hashlib.sha256(" ".join(keys).encode()).hexdigest()[:12]
                )
                path = _file(outbox, file_key, recipient)
                if alert.channel == "email":
                    body = email_body(alert, group, names, from_address, recipient, file_key)
                else:
                    body = webhook_body(alert, group, names)
                write_atomic(path, body, mode=0o600)
                rows = [
                    record_message(store, k, recipient, message_id(file_key, recipient, from_address), str(path))
                    for k in keys
                ]
                mine = [r for r in rows if r.eml_path == str(path) and r.status != SENT]
                transport = _transport_for(recipient, smtp, webhook)
                if not mine:
                    continue
                if transport is None:
                    report.sent.append(
                        {
                            "alert": alert.name,
                            "recipient": recipient,
                            "stories": keys,
                            "status": "queued",
                            "error": None,
                        }
                    )
                    continue
                report.sent.append(_send_file(store, mine, transport, from_address))
    return report
