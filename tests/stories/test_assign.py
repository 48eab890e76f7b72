"""assign_stories against a real SQLite store: seeds, exact duplicates, persistence, idempotence."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pairset import SEEDS
from sqlalchemy import func, select

from flows.records import Article
from flows.sources.seeds import read_seeds
from flows.store import open_store
from flows.store.items import upsert_items
from flows.store.schema import Item, Story, StoryBand, StoryFingerprint, StoryTerm
from flows.stories import assign_pending, assign_stories, get_story, story_sources

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
BODY = (
    "Chinese and American negotiators ended two days of talks in Geneva on Tuesday without an agreement "
    "on export controls for advanced chips, but both sides said they would meet again next month. "
    "The Commerce Department said the talks had been constructive, while China's Ministry of Commerce "
    "warned that new restrictions would harm global supply chains and cost jobs in both countries."
)


def article(
    key: str,
    title: str,
    text: str,
    url: str = "",
    published: datetime | None = T0,
    source: str = "Example News",
    guid: str | None = None,
) -> Article:
    return Article(
        key=key,
        source=source,
        source_kind="feed",
        url=url or key,
        title=title,
        text=text,
        published=published,
        guid=guid,
    )


def store_and_assign(store, articles: list[Article]) -> dict[str, str]:
    upsert_items(store, articles, now=T0)
    return assign_stories(store, [a.item_id for a in articles])


def test_seeds_000_and_002_share_a_story_and_no_other_seeds_do(store):
    seeds, errors = read_seeds(SEEDS)
    assert not errors and len(seeds) == 5
    result = store_and_assign(store, seeds)
    by_name = {a.url[:3]: result[a.item_id] for a in seeds}
    assert by_name["000"] == by_name["002"]
    assert len({by_name[n] for n in ("000", "001", "002", "003", "004")}) == 4

    story = get_story(store, by_name["002"])
    fullest = next(a for a in seeds if a.url.startswith("002"))
    assert story.n_items == 2
    assert story.representative_id == fullest.item_id  # the original, not the shorter rewrite
    assert story.title == fullest.title
    sources = story_sources(store, story.id)
    assert [s.item_id for s in sources][0] == fullest.item_id
    assert {s.source for s in sources} == {"seeds"} and len(sources) == 2


def test_assigning_twice_changes_nothing(store):
    seeds, _ = read_seeds(SEEDS)
    first = store_and_assign(store, seeds)
    with store.session() as s:
        before = [
            tuple(r)
            for r in s.execute(
                select(Story.id, Story.representative_id, Story.n_items, Story.first_seen, Story.last_seen).order_by(
                    Story.id
                )
            )
        ]
        index_rows = s.scalar(select(func.count()).select_from(StoryTerm))
    again = assign_stories(store, [a.item_id for a in seeds] + ["no-such-item"])
    assert again == first
    with store.session() as s:
        after = [
            tuple(r)
            for r in s.execute(
                select(Story.id, Story.representative_id, Story.n_items, Story.first_seen, Story.last_seen).order_by(
                    Story.id
                )
            )
        ]
        assert s.scalar(select(func.count()).select_from(StoryTerm)) == index_rows
        assert all(r.story_id for r in s.scalars(select(Item)))
    assert after == before and len(after) == 4


def test_exact_duplicates_under_other_keys_join_one_story(store):
    original = article(
        "feed-a:1", "Chip talks end without a deal", BODY, url="https://www.example.com/world/chip-talks.html"
    )
    tracked = article(
        "feed-b:77",
        "Chip talks end without a deal",
        BODY + " (Updated.)",
        url="https://m.example.com/world/chip-talks.html?utm_source=rss#top",
        source="Aggregator",
    )
    by_guid = article(
        "feed-c:guid",
        "Geneva: no chip deal",
        "A short wire summary that differs.",
        url="https://other.example/x",
        guid="https://www.example.com/world/chip-talks.html",
        source="Wire",
    )
    same_text = article(
        "feed-d:9",
        "Different headline, same text",
        BODY,
        url="https://mirror.example/copy",
        published=T0 + timedelta(days=40),
        source="Mirror",
    )
    result = store_and_assign(store, [original, tracked, by_guid, same_text])
    assert len(set(result.values())) == 1
    sources = story_sources(store, result[original.item_id])
    assert {s.source for s in sources} == {"Example News", "Aggregator", "Wire", "Mirror"}


def test_shared_boilerplate_is_not_a_duplicate(store):
    a = article("b:1", "Aleppo, Istanbul, OPEC: Your Monday Briefing", "Good morning.")
    b = article("b:2", "How Trump Is Helping China", "Good morning.", published=T0 + timedelta(hours=30))
    result = store_and_assign(store, [a, b])
    assert result[a.item_id] != result[b.item_id]


def test_the_index_persists_and_later_arrivals_join_earlier_stories(tmp_path):
    url = f"sqlite:///{tmp_path}/persist.db"
    first = article("feed-a:1", "Chip talks end without a deal", BODY, url="https://example.com/chips")
    store = open_store(url)
    story_id = store_and_assign(store, [first])[first.item_id]
    store.close()

    later_copy = article(
        "feed-b:2",
        "U.S. and China fail to agree on chip controls",
        BODY.replace("Tuesday", "Tuesday evening"),
        url="https://elsewhere.example/chips",
        published=T0 + timedelta(hours=20),
        source="Other",
    )
    unrelated = article(
        "feed-b:3",
        "Hong Kong court jails activists",
        "A Hong Kong court sentenced a group of "
        "pro-democracy activists to prison terms on Wednesday under the national security law, "
        "in the largest such case since the law took effect, drawing criticism from Washington.",
        url="https://elsewhere.example/hk",
        published=T0 + timedelta(hours=21),
        source="Other",
    )
    store = open_store(url)
    result = store_and_assign(store, [later_copy, unrelated])
    assert result[later_copy.item_id] == story_id
    assert result[unrelated.item_id] == unrelated.item_id
    story = get_story(store, story_id)
    assert story.n_items == 2
    assert story.first_seen <= story.last_seen
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(StoryFingerprint)) == 3
        assert s.scalar(select(func.count()).select_from(StoryBand)) > 0
    store.close()


def test_a_store_with_the_old_index_layout_is_rebuilt_and_keeps_matching(tmp_path):
    """Stores made before postings were keyed by period: the first assignment re-derives the band
    and term tables from the stored fingerprints, and old items still find their copies."""
    from old_layout import downgrade_story_index
    from sqlalchemy import inspect

    url = f"sqlite:///{tmp_path}/old.db"
    first = article("feed-a:1", "Chip talks end without a deal", BODY, url="https://example.com/chips")
    store = open_store(url)
    story_id = store_and_assign(store, [first])[first.item_id]
    with store.session() as s:
        postings = {
            t.__tablename__: sorted(s.execute(select(t.band if t is StoryBand else t.term, t.day, t.item_id)))
            for t in (StoryBand, StoryTerm)
        }
        downgrade_story_index(s, store.dialect)
    store.close()

    store = open_store(url)
    later_copy = article(
        "feed-b:2",
        "U.S. and China fail to agree on chip controls",
        BODY.replace("Tuesday", "Tuesday evening"),
        url="https://elsewhere.example/chips",
        published=T0 + timedelta(hours=20),
        source="Other",
    )
    assert store_and_assign(store, [later_copy])[later_copy.item_id] == story_id
    assert {"period"} <= {c["name"] for c in inspect(store.engine).get_columns("story_bands")}
    with store.session() as s:
        for t in (StoryBand, StoryTerm):
            key = t.band if t is StoryBand else t.term
            rows = sorted(s.execute(select(key, t.day, t.item_id).where(t.item_id == first.item_id)))
            assert rows == postings[t.__tablename__] and rows
    store.close()


def test_batch_size_does_not_change_the_grouping(tmp_path):
    seeds, _ = read_seeds(SEEDS)
    copies = [
        article(f"copy:{i}", a.title, a.text, url=f"https://copies.example/{i}", source="Copier")
        for i, a in enumerate(seeds[:2])
    ]
    everything = seeds + copies

    together = open_store(f"sqlite:///{tmp_path}/together.db")
    all_at_once = store_and_assign(together, everything)
    one_by_one_store = open_store(f"sqlite:///{tmp_path}/single.db")
    upsert_items(one_by_one_store, everything, now=T0)
    one_by_one = {}
    for a in everything:
        one_by_one.update(assign_stories(one_by_one_store, [a.item_id]))

    def partition(mapping):
        groups = {}
        for item, story in mapping.items():
            groups.setdefault(story, set()).add(item)
        return sorted(map(sorted, groups.values()))

    assert partition(all_at_once) == partition(one_by_one)
    assert len(partition(all_at_once)) == 4


def test_assign_pending_catches_up_on_every_unassigned_item(store):
    seeds, _ = read_seeds(SEEDS)
    upsert_items(store, seeds, now=T0)
    assign_stories(store, [seeds[0].item_id])
    assert assign_pending(store, batch=2) == 4
    assert assign_pending(store) == 0
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Item).where(Item.story_id.is_(None))) == 0


def test_entries_named_by_anchors_on_one_page_stay_apart(store):
    page = "https://example.org/log.html"
    a = article("log:1", "More RSS tweaks", BODY, url=f"{page}#entry-1", guid=f"{page}#entry-1")
    b = article(
        "log:2",
        "A brand new feed appeared",
        "An unrelated note about the site's new feed, "
        "its layout and the tools used to build it, written months apart from the other entry.",
        url=f"{page}#entry-2",
        guid=f"{page}#entry-2",
        published=T0 + timedelta(days=200),
    )
    result = store_and_assign(store, [a, b])
    assert result[a.item_id] != result[b.item_id]


def test_look_alike_posts_of_one_feed_are_not_merged_unless_copies(store):
    feed = "https://blog.example/feed.xml"
    first = Article(
        key="blog:1",
        source="A blog",
        source_kind="feed",
        feed_url=feed,
        url="https://blog.example/git-rebase",
        title="Updating a branch with git rebase",
        text="The command git rebase can be used to update a branch with the changes of another "
        "branch. In this post we use git rebase to update a feature branch with main, "
        "and then push the updated branch with git push --force-with-lease.",
        published=T0,
    )
    second = Article(
        key="blog:2",
        source="A blog",
        source_kind="feed",
        feed_url=feed,
        url="https://blog.example/git-rebase-onto",
        title="Fixing the base of a branch with git rebase",
        text="The command git rebase can also fix the base of a branch created from the wrong "
        "branch. In this post we use git rebase --onto to move a feature branch onto main, "
        "and then push the fixed branch with git push --force-with-lease.",
        published=T0 + timedelta(hours=30),
    )
    elsewhere = Article(
        key="other:1",
        source="Aggregator",
        source_kind="feed",
        feed_url="https://agg.example/rss",
        url="https://agg.example/p/1",
        title=second.title,
        text=second.text.replace("also ", ""),
        published=T0 + timedelta(hours=31),
    )
    result = store_and_assign(store, [first, second, elsewhere])
    assert result[first.item_id] != result[second.item_id]
    assert result[elsewhere.item_id] == result[second.item_id]  # another feed's copy joins
