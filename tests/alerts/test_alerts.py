"""Saved-search alerts end to end: a feed on the loopback gains an item about an Entity List rule;
the next ingest sends one e-mail (to a real aiosmtpd server) and one webhook POST (to a real HTTP
receiver); re-running sends nothing; a story that only gains a source is not alerted again; many
new matches at once go out as one message."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from tests.conftest import write_config
from tests.deliver.smtp_server import SmtpServer
from tests.fetch.feedtestkit import rss

ENTITY_LIST = (
    "Commerce adds Chinese chipmakers to the Entity List",
    "The US Commerce Department added eleven Chinese chipmakers to the entity list on Tuesday, "
    "a rule that bars American suppliers from selling them tools without a licence. Beijing "
    "said the export controls violated trade rules and vowed to protect its companies.",
)
OTHERS = [
    (
        "US raises tariffs on Chinese steel",
        "Washington raised tariffs on Chinese steel and aluminium on Monday; "
        "Beijing said the trade measures broke WTO rules and promised countermeasures against American goods.",
    ),
    (
        "US destroyer sails through the Taiwan Strait",
        "A US Navy destroyer transited the Taiwan Strait and China's "
        "military shadowed it. Beijing called the passage a provocation near Taiwan.",
    ),
]
BATCH = [
    (
        "Entity List grows by six Chinese drone makers",
        "Six drone makers from Shenzhen joined the entity list after "
        "Washington said their cameras fed surveillance programmes; Beijing protested the export controls.",
    ),
    (
        "Quantum labs in Hefei put on the Entity List",
        "The Commerce Department put three quantum computing labs in "
        "Hefei on the entity list, citing military end uses; China's ministry called it bullying.",
    ),
    (
        "Shipping firm added to Entity List over Iran oil",
        "A Hong Kong shipping company carrying Iranian crude to "
        "Chinese refineries was added to the entity list by the United States, its owners said on Friday.",
    ),
    (
        "Entity List rule hits Chinese biotech sequencer",
        "A genetic sequencing company from Beijing landed on the "
        "entity list under a rule on biotechnology exports, the Federal Register showed; the firm denied wrongdoing.",
    ),
    (
        "Two Chinese universities named on the Entity List",
        "Washington named two universities in Harbin and Xi'an on "
        "the entity list for missile research, restricting American software and equipment sales to them.",
    ),
    (
        "Entity List: US targets lidar supplier to Chinese army",
        "A lidar supplier in Wuhan was put on the entity "
        "list for selling sensors to the People's Liberation Army, American officials said in a notice.",
    ),
]


class Loopback:
    """Feeds at /feed/<name> and a webhook receiver at /hook on 127.0.0.1."""

    def __init__(self) -> None:
        self.feeds: dict[str, list[dict]] = {"a": [], "b": []}
        self.posts: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                name = self.path.rsplit("/", 1)[-1]
                if not self.path.startswith("/feed/") or name not in outer.feeds:
                    self.send_error(404)
                    return
                body = rss(outer.feeds[name], title=f"Wire {name.upper()} – China")
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.posts.append(
                    {"path": self.path, "type": self.headers.get("Content-Type"), "body": json.loads(data)}
                )
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, feed: str, n: int, title: str, text: str) -> None:
        self.feeds[feed].append(
            {
                "title": title,
                "link": f"https://wire-{feed}.example/{n}",
                "guid": f"https://wire-{feed}.example/{n}",
                "description": text,
                "pubDate": "Tue, 03 Mar 2026 10:00:00 GMT",
            }
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback():
    lb = Loopback()
    yield lb
    lb.close()


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def test_entity_list_item_is_alerted_once_by_email_and_webhook(project, loopback, smtp, monkeypatch):
    from flows import pipeline
    from flows.config import load_settings
    from flows.store.stories import get_story

    monkeypatch.setenv("ALERT_HOOK_URL", f"{loopback.base}/hook")
    write_config(
        project,
        seeds_dir=None,
        feeds=[
            {"url": f"{loopback.base}/feed/a", "name": "Wire A"},
            {"url": f"{loopback.base}/feed/b", "name": "Wire B"},
        ],
        fetch={"allow_private_addresses": True, "full_text": False, "respect_robots": False},
        email={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "security": "none",
            "from": "digest@example.org",
            "recipients": [],
        },
    )
    (project / "config" / "alerts.yaml").write_text(
        yaml.safe_dump(
            {
                "batch_over": 5,
                "alerts": [
                    {
                        "name": "entity-list",
                        "query": '"entity list"',
                        "channel": "email",
                        "recipients": ["analyst@example.org"],
                    },
                    {
                        "name": "entity-hook",
                        "query": '"entity list" -soybeans',
                        "channel": "webhook",
                        "url_env": "ALERT_HOOK_URL",
                    },
                ],
            }
        )
    )
    settings = load_settings(project / "config" / "pipeline.yaml")
    ingest = lambda: pipeline.run_ingest(settings, pipeline.IngestOptions(sources="feeds", force=True))  # noqa: E731

    for n, (title, text) in enumerate(OTHERS):
        loopback.add("a", n, title, text)
    first = ingest()
    assert first.items_new == 2 and not smtp.inbox.messages and not loopback.posts

    loopback.add("a", 10, *ENTITY_LIST)
    second = ingest()
    assert second.items_new == 1
    assert len(smtp.inbox.messages) == 1 and len(loopback.posts) == 1, (smtp.inbox.messages, loopback.posts)
    mail = email.message_from_bytes(smtp.inbox.messages[0].data, policy=email.policy.default)
    assert smtp.inbox.messages[0].rcpt_tos == ["analyst@example.org"]
    assert mail["Subject"] == f"Alert · entity-list: {ENTITY_LIST[0]}"
    assert "entity list" in mail.get_body(("plain",)).get_content()
    post = loopback.posts[0]
    assert post["path"] == "/hook" and post["type"] == "application/json"
    assert ENTITY_LIST[0] in post["body"]["text"] and post["body"]["blocks"][0]["type"] == "section"

    ingest()  # re-running sends nothing more
    assert len(smtp.inbox.messages) == 1 and len(loopback.posts) == 1

    loopback.add("b", 20, ENTITY_LIST[0], ENTITY_LIST[1])  # the same story from another source
    fourth = ingest()
    assert fourth.items_new == 1
    from flows.search.results import search

    story = search(pipeline.store_for(settings), '"entity list" chipmakers').stories[0]
    assert get_story(pipeline.store_for(settings), story.key).n_items == 2  # it gained a source
    assert len(smtp.inbox.messages) == 1 and len(loopback.posts) == 1  # and is not alerted again

    for n, (title, text) in enumerate(BATCH):  # six new matching stories at once: one message
        loopback.add("a", 30 + n, title, text)
    fifth = ingest()
    assert fifth.items_new == 6
    assert len(smtp.inbox.messages) == 2 and len(loopback.posts) == 2, fifth.alerts
    batch = email.message_from_bytes(smtp.inbox.messages[1].data, policy=email.policy.default)
    assert batch["Subject"] == "Alert · entity-list: 6 new stories"
    assert all(t in loopback.posts[1]["body"]["text"] for t, _ in BATCH)
    ingest()
    assert len(smtp.inbox.messages) == 2 and len(loopback.posts) == 2

    feeds = settings.digests_dir / "feeds"  # and the saved searches' feeds were written
    assert (feeds / "search-entity-list.atom").exists() and (feeds / "search-entity-hook.json").exists()


def test_webhook_down_waits_in_the_outbox_and_goes_once_it_is_back(project, loopback, monkeypatch):
    from flows import pipeline
    from flows.config import load_settings
    from flows.store.deliveries import unsent

    monkeypatch.setenv("ALERT_HOOK_URL", "http://127.0.0.1:9/hook")  # nothing listens on port 9
    write_config(
        project,
        seeds_dir=None,
        feeds=[{"url": f"{loopback.base}/feed/a", "name": "Wire A"}],
        fetch={"allow_private_addresses": True, "full_text": False, "respect_robots": False},
    )
    (project / "config" / "alerts.yaml").write_text(
        yaml.safe_dump(
            {
                "alerts": [
                    {"name": "entity-hook", "query": '"entity list"', "channel": "webhook", "url_env": "ALERT_HOOK_URL"}
                ]
            }
        )
    )
    settings = load_settings(project / "config" / "pipeline.yaml")
    loopback.add("a", 1, *ENTITY_LIST)
    report = pipeline.run_ingest(settings, pipeline.IngestOptions(sources="feeds", force=True))
    assert [m["status"] for m in report.alerts["messages"]] == ["failed"]
    assert len(unsent(pipeline.store_for(settings), alerts=True)) == 1
    assert unsent(pipeline.store_for(settings)) == []  # the digests' outbox does not take it
    monkeypatch.setenv("ALERT_HOOK_URL", f"{loopback.base}/hook")
    report = pipeline.run_ingest(settings, pipeline.IngestOptions(sources="feeds", force=True))
    assert [m["status"] for m in report.alerts["messages"]] == ["sent"] and len(loopback.posts) == 1
    pipeline.run_ingest(settings, pipeline.IngestOptions(sources="feeds", force=True))
    assert len(loopback.posts) == 1


def test_bad_alert_query_is_one_line(project):
    from flows.alerts.config import load_alerts
    from flows.config import ConfigError, load_settings

    (project / "config" / "alerts.yaml").write_text("alerts:\n  - {name: x, query: '\"open', recipients: [a@b.c]}\n")
    with pytest.raises(ConfigError) as e:
        load_alerts(load_settings(project / "config" / "pipeline.yaml"))
    assert "unbalanced quote" in str(e.value) and "\n" not in str(e.value)
