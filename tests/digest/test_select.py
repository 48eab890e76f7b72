"""Selection and arrangement: each story once, sections in taxonomy order, movers, trend, updates."""

from __future__ import annotations

from datetime import timedelta

from newsroom import SINCE, UNTIL, Piece, add_pieces, build_newsroom

from flows.config import load_taxonomy
from flows.digest.select import change_label, select_content
from flows.pipeline import DigestOptions, run_digest, store_for
from flows.store.schema import Story


def content_for(settings, since=SINCE, until=UNTIL, ident="daily-2026-05-12", issues=None):
    taxonomy = load_taxonomy(settings.issues_file)
    return select_content(store_for(settings), settings, taxonomy, ident, "daily", since, until, issues)


def test_each_story_once_under_its_strongest_issue_in_taxonomy_order(newsroom):
    d = content_for(newsroom)
    ids = [s.id for s in d.sections]
    taxonomy = load_taxonomy(newsroom.issues_file).ids
    assert ids[-1] == "other" and ids[:-1] == [i for i in taxonomy if i in ids]
    assert "diplomacy" not in ids  # only ever a secondary issue today: left out
    keys = [s.key for sec in d.sections for s in sec.stories]
    assert len(keys) == len(set(keys)) == d.n_stories == 13
    taiwan = next(s for s in d.sections if s.id == "taiwan")
    titles = [s.title for s in taiwan.stories]
    assert titles[0].startswith("US approves $2 billion arms package")  # 4 sources first
    assert "PLA aircraft cross Taiwan Strait median line in record numbers" in titles  # not under military
    arms = taiwan.stories[0]
    assert arms.sources == ["AP", "BBC News", "Reuters", "The Guardian"] and arms.n_items == 4
    assert arms.evidence["taiwan"].startswith("The State Department approved")
    assert arms.summary.startswith("The State Department approved a $2 billion sale")
    assert (d.n_items, d.n_sources) == (21, 8)
    other = d.sections[-1]
    assert [s.title for s in other.stories] == ["Giant pandas arrive in San Diego in a sign of warming ties"]


def test_top_stories_rank_by_sources_then_relevance(newsroom):
    d = content_for(newsroom)
    assert [s.n_sources for s in d.top] == [4, 3, 2, 2, 2]
    assert d.top[0].title.startswith("US approves $2 billion arms package")
    newsroom.digest.top_stories = 2
    assert len(content_for(newsroom).top) == 2
    # Never more than half the stories: a three-story digest has one top story.
    assert len(content_for(newsroom, issues=["trade", "technology"]).top) == 1


def test_movers_changes_and_trend_against_the_periods_before(newsroom):
    d = content_for(newsroom)
    assert [(m.name, m.change) for m in d.movers] == [
        ("Trade & tariffs", "▼"),
        ("Taiwan", "▲ 3×"),
        ("Military & maritime security", "▲ new"),
    ]
    changes = {s.id: s.change for s in d.sections}
    assert changes["taiwan"] == "▲ 3×" and changes["cyber"] == "steady" and changes["other"] == ""
    assert len(d.trend.labels) == newsroom.digest.trend_periods == 8
    assert d.trend.labels[-1] == "12 May" and d.trend.labels[0] == "5 May"
    series = {s.issue_id: s.counts for s in d.trend.series}
    assert series["taiwan"] == [0, 1, 1, 1, 1, 1, 1, 3]
    assert series["trade"] == [0, 4, 4, 4, 4, 4, 4, 1]
    assert "Taiwan 3 (before: 0, 1, 1, 1, 1, 1, 1)" in d.trend.alt_text()


def test_no_history_means_no_changes_claimed(settings):
    build_newsroom(store_for(settings), with_history=False)
    d = content_for(settings)
    assert d.movers == [] and all(s.change == "" for s in d.sections)


def test_a_reader_gets_only_their_issues(newsroom):
    d = content_for(newsroom).for_issues(["trade", "technology"])
    assert [(s.id, s.count) for s in d.sections] == [("trade", 2), ("technology", 1)]
    trade = d.sections[0]
    assert [s.title for s in trade.stories][1] == "China's exports slow as US demand weakens"  # economy not followed
    assert {m.id for m in d.movers} <= {"trade", "technology"}
    assert [s.issue_id for s in d.trend.series] == ["trade", "technology"]
    assert d.subscribed_names == ["Trade & tariffs", "Technology & export controls"]
    assert content_for(newsroom).for_issues(["north_korea_iran"]).sections == []


def test_cap_per_issue_shows_fewer_but_counts_all(newsroom):
    newsroom.digest.max_items_per_issue = 1
    taiwan = next(s for s in content_for(newsroom).sections if s.id == "taiwan")
    assert (len(taiwan.stories), taiwan.count, taiwan.more) == (1, 3, 2)


def test_the_stories_table_picks_the_headline(newsroom):
    store = store_for(newsroom)
    d = content_for(newsroom)
    bbc = next(s for s in d.stories if s.key == "s-taiwan-arms")
    assert bbc.title.startswith("US approves")
    with store.session() as s:
        from flows.store.schema import Item

        item = s.query(Item).filter(Item.story_id == "s-taiwan-arms", Item.source == "BBC News").one()
        s.get(Story, "s-taiwan-arms").representative_id = item.id
    again = next(s for s in content_for(newsroom).stories if s.key == "s-taiwan-arms")
    assert again.title == "China condemns new US weapons sale to Taiwan"


def test_next_digest_repeats_nothing_and_marks_a_story_with_new_sources_updated(newsroom):
    first = run_digest(newsroom, DigestOptions(until=UNTIL))
    assert first.n_stories == 13
    tomorrow = UNTIL + timedelta(days=1)
    add_pieces(
        store_for(newsroom),
        [
            Piece(
                "Nikkei Asia",
                "Japan watches as US arms Taiwan",
                ["Tokyo is watching closely as the US arms Taiwan, officials in Japan said on Tuesday."],
                {"taiwan": 0.9},
                story="s-taiwan-arms",
                hours_ago=5,
            ),
            Piece(
                "AP",
                "US trade envoy to visit Beijing next month",
                ["The US trade representative will visit Beijing next month to discuss tariffs, officials said."],
                {"trade": 0.9},
                hours_ago=4,
            ),
        ],
        tomorrow,
        start=500,
    )
    second = run_digest(newsroom, DigestOptions(until=tomorrow))
    assert second.id == "daily-2026-05-13" and second.n_stories == 2
    d = content_for(newsroom, since=UNTIL, until=tomorrow, ident=second.id)
    arms = next(s for s in d.stories if s.key == "s-taiwan-arms")
    assert arms.updated and arms.n_sources == 5 and "Nikkei Asia" in arms.sources
    envoy = next(s for s in d.stories if s.title.startswith("US trade envoy"))
    assert not envoy.updated
    text = second.text_path.read_text()
    assert "UPDATED" in text and "Giant pandas" not in text and "Hong Kong jails" not in text
    assert "Updated</span>" in second.html_path.read_text()


def test_change_labels():
    assert [
        change_label(3, 1),
        change_label(2, 1),
        change_label(3, 2),
        change_label(1, 4),
        change_label(2, 2),
        change_label(1, 0),
        change_label(0, 0),
        change_label(4, None),
    ] == ["▲ 3×", "▲ 2×", "▲", "▼", "steady", "▲ new", "steady", ""]


def test_trend_labels_at_the_edges_of_the_calendar_do_not_crash():
    """A window ending on 1 January of year 1 (UTC) has no New York date: it is labelled in UTC."""
    from datetime import datetime, timezone

    from flows.digest.select import _label

    first = datetime(1, 1, 1, tzinfo=timezone.utc)
    assert _label(first, "daily", "America/New_York") == "1 Jan"
    assert _label(datetime(2026, 3, 1, 3, tzinfo=timezone.utc), "daily", "America/New_York") == "28 Feb"
