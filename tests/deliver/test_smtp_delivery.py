"""End to end through a real SMTP server: what arrives, for whom, and that nothing arrives twice."""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

from newsroom import UNTIL
from smtp_server import SmtpServer, configure

from flows.pipeline import DigestOptions, run_digest, store_for
from flows.store.deliveries import deliveries_for


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def structure(msg: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in msg.walk()]


def send(settings, **options):
    return run_digest(settings, DigestOptions(until=UNTIL, send=True, **options))


def test_digest_arrives_once_per_recipient_with_their_sections(newsroom, smtp_server):
    settings = configure(newsroom, smtp_server)
    result = send(settings)
    inbox = smtp_server.inbox
    assert sorted(r for m in inbox.messages for r in m.rcpt_tos) == [
        "all@example.org",
        "taiwan@example.org",
        "trade@example.org",
    ]
    assert [d["status"] for d in result.deliveries] == ["sent"] * 3
    assert result.outbox is None

    msg = parse(inbox.to("all@example.org")[0].data)
    assert inbox.to("all@example.org")[0].mail_from == "digest@news.example.org"
    assert structure(msg) == ["multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png"]
    assert msg["From"] == "US–China Digest <digest@news.example.org>"
    assert msg["To"] == "Ann All <all@example.org>"
    assert msg["Subject"] == "US–China daily · 12 May 2026 · Taiwan, Trade & tariffs, Technology & export controls"
    assert msg["Date"] and msg["Date"].datetime.tzinfo is not None
    assert re.fullmatch(r"<daily-2026-05-12\.[0-9a-f]{16}@news\.example\.org>", msg["Message-ID"])
    assert msg["List-Unsubscribe"] == (
        "<https://news.example.org/unsubscribe?u=all%40example.org>, "
        "<mailto:digest@news.example.org?subject=unsubscribe%20all%40example.org>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    text = msg.get_body(("plain",)).get_content()
    assert "TOP STORIES" in text and "TAIWAN · 3 stories · ▲ 3×" in text
    assert "Moving most: Trade & tariffs ▼, Taiwan ▲ 3×" in text
    assert "US approves $2 billion arms package for Taiwan" in text
    assert "https://news.example.org/digests/daily-2026-05-12.html" in text
    assert "Unsubscribe: https://news.example.org/unsubscribe?u=all%40example.org" in text

    html = msg.get_body(("html",)).get_content()
    image = [p for p in msg.walk() if p.get_content_type() == "image/png"][0]
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert image.get_payload(decode=True).startswith(b"\x89PNG\r\n\x1a\n")
    assert image.get_content_disposition() == "inline"
    alt = re.search(r'<img[^>]*alt="([^"]+)"', html).group(1)
    assert alt.startswith("Trend chart of stories per issue") and "Taiwan 3" in alt
    assert len(html.encode()) < 100_000
    assert "data:" not in html and "<link" not in html
    assert re.findall(r"<img\b", html) == ["<img"]  # the chart, nothing remote
    assert 'style="' in html  # css-inline did its work

    # Each recipient sees their issues only, each story once.
    tw = parse(inbox.to("taiwan@example.org")[0].data)
    tw_text = tw.get_body(("plain",)).get_content()
    assert tw["Subject"] == "US–China daily · 12 May 2026 · Taiwan, Military & maritime security"
    assert "TAIWAN · 3 stories" in tw_text and "MILITARY & MARITIME SECURITY · 1 story" in tw_text
    assert "TRADE" not in tw_text and "Beijing hits US farm goods" not in tw_text
    assert "You receive these issues: Military & maritime security, Taiwan." in tw_text
    tw_html = tw.get_body(("html",)).get_content()
    assert "Beijing hits US farm goods" not in tw_html and "Taiwan" in tw_html
    tr_text = parse(inbox.to("trade@example.org")[0].data).get_body(("plain",)).get_content()
    # The exports story leans to economy, which this reader does not follow: it comes under trade.
    assert "TRADE & TARIFFS · 2 stories" in tr_text and "TAIWAN" not in tr_text
    assert "* China's exports slow as US demand weakens" in tr_text

    # A second run (a retry, or the scheduler firing twice) sends nothing.
    again = send(settings)
    assert len(inbox.messages) == 3
    assert [d["status"] for d in again.deliveries] == ["already_sent"] * 3
    rows = deliveries_for(store_for(settings), result.id)
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * 3
    assert not list((settings.digests_dir / "outbox").glob("*.eml"))


def test_smtp_down_keeps_message_in_outbox_and_sends_it_next_run_once(newsroom):
    server = SmtpServer()  # its port, with nothing listening yet
    settings = configure(newsroom, server, recipients=[{"address": "all@example.org"}])
    first = send(settings)
    assert [d["status"] for d in first.deliveries] == ["failed"]
    assert "ConnectionRefusedError" in first.deliveries[0]["error"]
    assert "kept in" in first.outbox
    kept = list((settings.digests_dir / "outbox").glob("*.eml"))
    assert len(kept) == 1 and parse(kept[0].read_bytes())["To"] == "all@example.org"
    stored = kept[0].read_bytes()

    server.start()
    try:
        second = send(settings)
        assert [m.rcpt_tos for m in server.inbox.messages] == [["all@example.org"]]
        assert server.inbox.messages[0].data.rstrip(b"\r\n") == stored.rstrip(b"\r\n")  # the very bytes kept
        assert [d["status"] for d in second.deliveries] == ["sent"]
        assert not kept[0].exists()
        third = send(settings)
        assert len(server.inbox.messages) == 1
        assert [d["status"] for d in third.deliveries] == ["already_sent"]
    finally:
        server.stop()
    row = deliveries_for(store_for(settings), first.id)[0]
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_without_smtp_messages_wait_in_outbox_and_the_command_says_so(newsroom):
    from click.testing import CliRunner

    from flows.cli import main

    settings = configure(newsroom, None)
    result = send(settings)
    assert {d["status"] for d in result.deliveries} == {"queued"}
    assert "no SMTP server configured: 3 message(s) wait in" in result.outbox
    assert len(list((settings.digests_dir / "outbox").glob("*.eml"))) == 3

    # Through the CLI (config from the file: one recipient, no SMTP host).
    cfg = settings.config_path
    cfg.write_text(cfg.read_text().replace("a@example.org", "cli@example.org"))
    out = CliRunner().invoke(main, ["digest", "--config", str(cfg), "--send", "--until", UNTIL.isoformat()])
    assert out.exit_code == 0, out.output
    assert "no SMTP server configured" in out.output and "cli@example.org" in out.output

    # Configure a server later: everything waiting goes out, once.
    server = SmtpServer().start()
    try:
        later = send(configure(newsroom, server))
        got = sorted(r for m in server.inbox.messages for r in m.rcpt_tos)
        assert got == ["all@example.org", "cli@example.org", "taiwan@example.org", "trade@example.org"]
        assert later.outbox is None
    finally:
        server.stop()


def test_the_cli_exits_1_when_a_message_could_not_be_sent_and_keeps_it(newsroom):
    """`digest --send` against a dead SMTP server: the digest is written and its path printed, the
    message waits in the outbox, and the exit status says something was not sent."""
    import yaml
    from click.testing import CliRunner

    from flows.cli import main

    dead = SmtpServer()  # its port, with nothing listening
    cfg = newsroom.config_path
    data = yaml.safe_load(cfg.read_text())
    data["email"] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": dead.port,
        "security": "none",
        "from_address": "digest@news.example.org",
        "recipients": [{"address": "ops@example.org"}],
        "retries": 1,
        "retry_backoff": 0.01,
        "timeout": 5,
    }
    cfg.write_text(yaml.safe_dump(data))
    out = CliRunner().invoke(main, ["digest", "--config", str(cfg), "--send", "--until", UNTIL.isoformat()])
    assert out.exit_code == 1, out.output
    assert "✗ not sent" in out.output and "ops@example.org" in out.output and "ConnectionRefusedError" in out.output
    html_path = next(line for line in out.output.splitlines() if line.endswith(".html"))
    assert (cfg.parent / html_path).exists() or Path(html_path).exists()
    kept = list((newsroom.digests_dir / "outbox").glob("*.eml"))
    assert len(kept) == 1 and parse(kept[0].read_bytes())["To"] == "ops@example.org"


def test_to_sends_one_test_message_with_all_issues(newsroom, smtp_server):
    settings = configure(newsroom, smtp_server)
    run_digest(settings, DigestOptions(until=UNTIL, to="editor@example.org"))
    assert [m.rcpt_tos for m in smtp_server.inbox.messages] == [["editor@example.org"]]
    text = parse(smtp_server.inbox.messages[0].data).get_body(("plain",)).get_content()
    assert "You receive all issues." in text and "TAIWAN" in text and "TRADE & TARIFFS" in text


def test_a_test_send_does_not_use_up_the_subscribers_copy(newsroom, smtp_server):
    settings = configure(newsroom, smtp_server, recipients=[{"address": "editor@example.org"}])
    run_digest(settings, DigestOptions(until=UNTIL, to="editor@example.org"))
    run_digest(settings, DigestOptions(until=UNTIL, to="editor@example.org"))  # a test send is once, too
    send(settings)
    send(settings)
    ids = [parse(m.data)["Message-ID"] for m in smtp_server.inbox.messages]
    assert [m.rcpt_tos for m in smtp_server.inbox.messages] == [["editor@example.org"]] * 2
    assert len(set(ids)) == 2  # receivers must not drop the real copy as a duplicate


def test_one_click_header_only_with_an_https_unsubscribe_url(newsroom, smtp_server):
    settings = configure(newsroom, smtp_server, unsubscribe_url=None, recipients=[{"address": "x@example.org"}])
    send(settings)
    msg = parse(smtp_server.inbox.messages[0].data)
    assert msg["List-Unsubscribe"].strip() == "<mailto:digest@news.example.org?subject=unsubscribe%20x%40example.org>"
    assert msg["List-Unsubscribe-Post"] is None
    assert "mailto:digest@news.example.org?subject=unsubscribe" in msg.get_body(("html",)).get_content()
