"""Both sides' sources as real HTTP sites on loopback addresses: Xinhua and Global Times (Chinese
state media), the State Department's press releases, the Federal Register's documents API, an AP
wire feed and China's MFA spokesperson transcripts (a list page, no feed). Each site is its own
127.0.0.x address, as the real ones are distinct hosts."""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fetch"))

from webserver import Response, WebServer, static  # noqa: E402

TESTDATA = Path(__file__).parent / "testdata"
PAGES = TESTDATA / "pages"


def article_page(name: str, site: str) -> bytes:
    """A news page with the article of `pages/<name>.txt` (first line the headline)."""
    lines = (PAGES / f"{name}.txt").read_text(encoding="utf-8").strip().splitlines()
    title, paras = lines[0], lines[1:]
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paras)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)} - {site}</title>"
        f"<meta property='og:site_name' content='{site}'></head><body>"
        f"<header><nav><a href='/'>Home</a> <a href='/world/'>World</a></nav></header>"
        f"<main><article><h1>{html.escape(title)}</h1>{body}</article></main>"
        f"<footer><p>Copyright {site}. All rights reserved.</p></footer></body></html>"
    ).encode("utf-8")


@dataclass
class Sites:
    servers: dict[str, WebServer]

    def url(self, site: str, path: str) -> str:
        return self.servers[site].url(path)

    def feeds(self) -> list[dict]:
        """The pipeline.yaml feed entries for these sites, each with its country and kind (the
        loopback hosts are in no catalogue: the feed's own settings say who they are)."""
        return [
            {
                "url": self.url("xinhua", "/english/rss/worldrss.xml"),
                "name": "Xinhua",
                "country": "CN",
                "kind": "state",
            },
            {
                "url": self.url("globaltimes", "/rss/china.xml"),
                "name": "Global Times",
                "country": "CN",
                "kind": "state",
            },
            {
                "url": self.url("state", "/rss-feed/press-releases/feed/"),
                "name": "US Department of State",
                "country": "US",
                "kind": "official",
            },
            {
                "url": self.url("federalregister", "/api/v1/documents.json"),
                "name": "Federal Register (BIS rules)",
                "country": "US",
                "kind": "official",
            },
            {"url": self.url("ap", "/hub/asia-pacific.rss"), "name": "AP", "country": "US", "kind": "wire"},
            {
                "url": self.url("mfa", "/eng/xw/fyrbt/lxjzh/"),
                "name": "China MFA spokesperson",
                "type": "page",
                "links": r"/eng/xw/fyrbt/lxjzh/\d{6}/t\d+_\d+\.html$",
                "country": "CN",
                "kind": "official",
            },
        ]

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def start_sites(now: datetime | None = None) -> Sites:
    now = now or datetime.now(timezone.utc)
    names = ["xinhua", "globaltimes", "state", "federalregister", "ap", "mfa"]
    servers = {name: WebServer(f"127.0.0.{n}").start() for n, name in enumerate(names, start=2)}
    pub = format_datetime(now)

    def feed(site: str, path: str, fixture: str, content_type: str = "application/rss+xml") -> None:
        text = (TESTDATA / fixture).read_text(encoding="utf-8")
        text = text.replace("{base}", servers[site].base).replace("{pubdate}", pub).replace("{date}", f"{now:%Y-%m-%d}")
        servers[site].route(path, static(text.encode("utf-8"), content_type))

    def page(site: str, path: str, name: str, label: str) -> None:
        servers[site].route(
            path, Response(200, article_page(name, label), {"Content-Type": "text/html; charset=utf-8"})
        )

    feed("xinhua", "/english/rss/worldrss.xml", "xinhua.xml")
    page("xinhua", "/english/20261202/entity-list.html", "entity-list-xinhua", "Xinhua")
    page("xinhua", "/english/20261202/chip-curbs.html", "chip-curbs-xinhua", "Xinhua")
    feed("globaltimes", "/rss/china.xml", "globaltimes.xml")
    page("globaltimes", "/page/202612/1340001.shtml", "chip-curbs-gt", "Global Times")
    feed("state", "/rss-feed/press-releases/feed/", "state.xml")
    page(
        "state",
        "/adding-chinese-entities-to-the-entity-list/",
        "entity-list-state",
        "United States Department of State",
    )
    feed("federalregister", "/api/v1/documents.json", "federalregister.json", "application/json; charset=utf-8")
    page(
        "federalregister",
        "/documents/2026/12/02/2026-24101/additions-of-entities-to-the-entity-list",
        "federal-register",
        "Federal Register",
    )
    feed("ap", "/hub/asia-pacific.rss", "apnews.xml")
    page("ap", "/article/china-entity-list-chips-0a1b2c", "entity-list-ap", "AP News")
    feed("mfa", "/eng/xw/fyrbt/lxjzh/", "mfa_list.html", "text/html; charset=utf-8")
    page("mfa", "/eng/xw/fyrbt/lxjzh/202612/t20261202_11771001.html", "mfa-1202", "Ministry of Foreign Affairs")
    page("mfa", "/eng/xw/fyrbt/lxjzh/202612/t20261201_11770501.html", "mfa-1201", "Ministry of Foreign Affairs")
    return Sites(servers)
