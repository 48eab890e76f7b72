"""The digest as an email message: multipart/alternative of a text part and HTML with its chart.

Structure (what mail clients expect for an HTML mail with an embedded image):

    multipart/alternative
    ├── text/plain                       the text twin
    └── multipart/related
        ├── text/html                    inlined HTML, <img src="cid:…">
        └── image/png                    the trend chart, Content-ID <…>, inline

The Message-ID is derived from (digest, recipient), so a message re-sent from the outbox keeps its
identity and a receiving server can drop a duplicate.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from flows.digest.render import RenderedEmail

SENDER_NAME = "US–China Digest"


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1] or "localhost"


def message_id(digest_id: str, recipient: str, from_address: str) -> str:
    """Stable per (digest, recipient): `<daily-2026-05-12.3f2a…@example.org>`."""
    tag = hashlib.sha256(recipient.strip().lower().encode("utf-8")).hexdigest()[:16]
    return f"<{digest_id}.{tag}@{_domain(from_address)}>"


def unsubscribe_link(unsubscribe_url: str | None, recipient: str, from_address: str) -> str:
    """The recipient's unsubscribe link: the configured URL (with `{address}` filled in), else a
    mailto: to the sender."""
    if unsubscribe_url:
        return unsubscribe_url.replace("{address}", quote(recipient, safe=""))
    return f"mailto:{from_address}?subject={quote('unsubscribe ' + recipient)}"


def build_message(
    rendered: RenderedEmail,
    *,
    from_address: str,
    to_address: str,
    to_name: str | None,
    digest_id: str,
    unsubscribe: str,
    date: datetime | None = None,
) -> EmailMessage:
    """The full message for one recipient.

    `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058) is only valid beside an https
    unsubscribe URI, so it is set when `unsubscribe` is one; a mailto: link is always offered.
    """
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((SENDER_NAME, from_address))
    msg["To"] = formataddr((to_name or "", to_address))
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(date or datetime.now(timezone.utc))
    msg["Message-ID"] = message_id(digest_id, to_address, from_address)
    mailto = f"mailto:{from_address}?subject={quote('unsubscribe ' + to_address)}"
    links = [unsubscribe] if not unsubscribe.startswith("mailto:") else []
    msg["List-Unsubscribe"] = ", ".join(f"<{u}>" for u in links + [mailto])
    if unsubscribe.startswith("https://"):
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["List-Id"] = f"US–China Digest <digest.{_domain(from_address)}>"
    msg["X-Digest-Id"] = digest_id
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    html_part = msg.get_payload()[1]
    html_part.add_related(
        rendered.chart_png, "image", "png", cid=f"<{rendered.chart_cid}>", filename="trend.png", disposition="inline"
    )
    html_part.get_payload()[1]["Content-Description"] = rendered.chart_alt[:900]
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    """The message as sent and as kept in the outbox (CRLF line ends)."""
    return msg.as_bytes(policy=SMTP)
