"""The web reader: archive, search, stories (with "wrong label?"), issues with their trend,
saved searches and feeds, server-rendered with the digest's jinja2 environment (autoescaped,
its filters) and no JavaScript.

    /                          the archive of digests, the issues, the saved searches
    /digests/<id>.html|.txt    a digest as written (the outbox folder beside them is never served)
    /search?q=…                search with the query language; results grouped by story
    /story/<key>               a story: its items by side, labels with evidence, corrections
    POST /story/<key>/label    record a correction as `uschina-digest label` does (CSRF-checked)
    /issue/<id>                an issue's weekly trend and newest stories
    /alerts                    the saved searches of config/alerts.yaml
    /feeds/<name>.atom|.json   latest, issue-<id>, search-<name>; ETag / Last-Modified, 304

Every page sends a Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, quote

from jinja2 import ChoiceLoader, PackageLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from flows.config import Settings, load_taxonomy
from flows.digest.render import _env as digest_env
from flows.web import csrf

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
DIGEST_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.(html|txt)$")
FEED_NAME = re.compile(r"^(latest|issue-[a-z0-9_]+|search-[a-z0-9_-]+)\.(atom|json)$")
TREND_WEEKS = 12
MAX_FORM_BYTES = 4096

env = digest_env.overlay(
    loader=ChoiceLoader([PackageLoader("flows.web", "templates"), PackageLoader("flows.digest", "templates")])
)


class Reader:
    """The reader's state: settings, store, taxonomy names, the CSRF secret."""

    def __init__(self, settings: Settings) -> None:
        from flows.pipeline import store_for

        self.settings = settings
        self.store = store_for(settings)
        self.taxonomy = load_taxonomy(settings.issues_file)
        self.names = {i.id: i.name for i in self.taxonomy.issues}
        self.secret = csrf.load_secret(settings.data_dir)

    def page(self, template: str, status: int = 200, **context) -> HTMLResponse:
        html = env.get_template(template).render(names=self.names, tz=self.settings.schedule.timezone, **context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    # -------------------------------------------------------------- pages

    def archive(self, request: Request) -> Response:
        from flows.alerts.config import load_alerts
        from flows.digest.render import dateline, heading
        from flows.store.digests import list_digests

        digests = list_digests(self.store)
        tz = self.settings.schedule.timezone
        titles = {
            g.id: f"{heading(g.period)} · {dateline(g.period, _aware(g.since), _aware(g.until), tz)}" for g in digests
        }
        return self.page(
            "web_archive.html.j2", digests=digests, titles=titles, alerts=load_alerts(self.settings).alerts
        )

    def digest_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        path = self.settings.digests_dir / name
        if not DIGEST_FILE.match(name) or not path.is_file():
            return self.page("web_message.html.j2", 404, title="Not found", message=f"No digest file {name}.")
        media = "text/html; charset=utf-8" if name.endswith(".html") else "text/plain; charset=utf-8"
        return FileResponse(path, media_type=media, headers=HEADERS)

    def search(self, request: Request) -> Response:
        from flows.search.query import QueryError
        from flows.search.results import search

        q = request.query_params.get("q", "").strip()
        try:
            limit = max(1, min(100, int(request.query_params.get("limit", "20"))))
        except ValueError:
            limit = 20
        if not q:
            return self.page("web_search.html.j2", q="", results=None, error=None)
        try:
            results = search(self.store, q, limit)
        except QueryError as e:
            return self.page("web_search.html.j2", 400, q=q, results=None, error=str(e))
        return self.page("web_search.html.j2", q=q, results=results, error=None)

    def story(self, request: Request) -> Response:
        from flows.store.items import as_utc, get_item, labels_for
        from flows.store.stories import get_story, story_sources
        from flows.syndication.cards import card

        key = request.path_params["key"]
        found = card(self.store, key)
        if found is None:
            return self.page("web_message.html.j2", 404, title="Not found", message="No story or item with that id.")
        if get_story(self.store, key) is not None:
            ids = [s.item_id for s in story_sources(self.store, key)]
        else:
            ids = [key]
        items = [get_item(self.store, i) for i in ids]
        for item in items:  # SQLite hands back naive UTC times
            item.first_seen, item.published = as_utc(item.first_seen), as_utc(item.published)
        labels = labels_for(self.store, ids)
        from flows.search.sides import side_of

        by_side: dict[str, list] = {}
        for item in items:
            by_side.setdefault(side_of(item.source, item.url), []).append(item)
        tokens = {i: csrf.token(self.secret, f"label:{i}") for i in ids}
        return self.page(
            "web_story.html.j2",
            card=found,
            items=items,
            labels=labels,
            by_side=by_side,
            tokens=tokens,
            issues=self.taxonomy.issues,
            corrected=request.query_params.get("corrected"),
        )

    async def correct(self, request: Request) -> Response:
        from flows.store.labels import record_corrections

        key = request.path_params["key"]
        host = request.headers.get("host", "")
        if not csrf.same_origin(request.headers, host):
            return PlainTextResponse("cross-site form posts are refused", 403, headers=HEADERS)
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return PlainTextResponse("form too large", 413, headers=HEADERS)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        item_id, issue, action = form.get("item", ""), form.get("issue", ""), form.get("action", "")
        if not csrf.valid(self.secret, f"label:{item_id}", form.get("token")):
            return PlainTextResponse(
                "the form's token is missing or wrong: reload the story and try again", 403, headers=HEADERS
            )
        if action not in ("add", "remove") or issue not in set(self.names) | {"relevant"}:
            return PlainTextResponse("unknown issue or action", 400, headers=HEADERS)
        try:
            await run_in_threadpool(
                record_corrections,
                self.store,
                item_id,
                [issue] if action == "add" else [],
                [issue] if action == "remove" else [],
                "web reader",
            )
        except KeyError:
            return PlainTextResponse("no such item", 404, headers=HEADERS)
        target = f"/story/{quote(key, safe='')}?corrected={quote(issue)}#item-{quote(item_id, safe='')}"
        return RedirectResponse(target, status_code=303, headers=HEADERS)

    def issue(self, request: Request) -> Response:
        from flows.search.query import Query
        from flows.search.results import run_query
        from flows.store.search import latest_first_seen
        from flows.store.selection import label_rows_between

        issue_id = request.path_params["id"]
        if issue_id not in self.names:
            return self.page("web_message.html.j2", 404, title="Not found", message="No such issue.")
        end = (latest_first_seen(self.store) or datetime.now(timezone.utc)) + timedelta(seconds=1)
        start = end - timedelta(weeks=TREND_WEEKS)
        weeks = [[start + timedelta(weeks=n), set()] for n in range(TREND_WEEKS)]
        for item_id, story_id, seen, issue, _score in label_rows_between(self.store, start, end):
            if issue == issue_id:
                weeks[min(TREND_WEEKS - 1, int((seen - start) / timedelta(weeks=1)))][1].add(story_id or item_id)
        trend = [(w[0], len(w[1])) for w in weeks]
        top = max((n for _, n in trend), default=0)
        stories = run_query(self.store, Query(issues=[issue_id]), 30).stories
        return self.page("web_issue.html.j2", issue=self.taxonomy.get(issue_id), trend=trend, top=top, stories=stories)

    def alerts(self, request: Request) -> Response:
        from flows.alerts.config import alerts_path, load_alerts

        return self.page(
            "web_alerts.html.j2", alerts=load_alerts(self.settings).alerts, path=alerts_path(self.settings)
        )

    def feed(self, request: Request) -> Response:
        from flows.alerts.config import load_alerts
        from flows.syndication import feeds

        name = request.path_params["name"]
        m = FEED_NAME.match(name)
        if not m:
            return PlainTextResponse("no such feed", 404, headers=HEADERS)
        stem, ext = name.rsplit(".", 1)
        if stem == "latest":
            feed = feeds.latest_feed(self.store, self.settings)
        elif stem.startswith("issue-"):
            try:
                feed = feeds.issue_feed(self.store, self.settings, stem[6:])
            except KeyError:
                return PlainTextResponse("no such feed", 404, headers=HEADERS)
        else:
            alert = next((a for a in load_alerts(self.settings).alerts if a.name == stem[7:]), None)
            if alert is None:
                return PlainTextResponse("no such feed", 404, headers=HEADERS)
            feed = feeds.search_feed(self.store, self.settings, alert)
        self_url = str(request.url.replace(query=""))
        site = str(request.base_url)
        body = feeds.atom(feed, self_url, site) if ext == "atom" else feeds.json_feed(feed, self_url, site)
        tag, modified = feeds.etag(body), feeds.last_modified(feed)
        headers = {**HEADERS, "ETag": tag, "Last-Modified": modified, "Cache-Control": "max-age=300"}
        if _not_modified(request, tag, feed.updated):
            return Response(status_code=304, headers=headers)
        media = "application/atom+xml; charset=utf-8" if ext == "atom" else "application/feed+json; charset=utf-8"
        return Response(body, media_type=media, headers=headers)


def _not_modified(request: Request, tag: str, updated: datetime) -> bool:
    """RFC 9110: If-None-Match decides when sent; otherwise If-Modified-Since."""
    match = request.headers.get("if-none-match")
    if match is not None:
        return tag in [t.strip() for t in match.split(",")] or match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return updated.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def create_app(settings: Settings) -> Starlette:
    r = Reader(settings)
    return Starlette(
        routes=[
            Route("/", r.archive),
            Route("/digests/{name}", r.digest_file),
            Route("/search", r.search),
            Route("/story/{key}", r.story),
            Route("/story/{key}/label", r.correct, methods=["POST"]),
            Route("/issue/{id}", r.issue),
            Route("/alerts", r.alerts),
            Route("/feeds/{name}", r.feed),
        ]
    )
