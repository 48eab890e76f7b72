from datetime import datetime, timezone

from flows.records import Article, Classification, Evidence, IssueLabel
from flows.store import open_store
from flows.store.items import add_correction, count_items, labels_for, save_classifications, upsert_items, get_item


def article(n: int, **kw) -> Article:
    return Article(
        key=f"https://example.org/{n}",
        source="Example",
        source_kind="feed",
        url=f"https://example.org/{n}",
        title=f"Title {n}",
        text=f"Body {n} about tariffs.",
        **kw,
    )


def test_upsert_is_idempotent_and_loses_nothing(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    first = upsert_items(store, [article(1), article(2), article(2)])
    assert sorted(first.new_ids) == sorted([article(1).item_id, article(2).item_id])
    second = upsert_items(store, [article(1), article(2), article(3)])
    assert second.new_ids == [article(3).item_id]
    assert sorted(second.seen_ids) == sorted([article(1).item_id, article(2).item_id])
    assert count_items(store) == 3
    # Reopening the file sees the same rows: WAL mode, committed.
    store.close()
    assert count_items(open_store(f"sqlite:///{tmp_path / 's.sqlite3'}")) == 3


def test_undated_items_fall_back_to_first_seen_and_are_flagged(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    now = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
    when = datetime(2026, 10, 30, 8, tzinfo=timezone.utc)
    upsert_items(store, [article(1), article(2, published=when)], now=now)
    undated, dated = get_item(store, article(1).item_id), get_item(store, article(2).item_id)
    assert undated.undated and undated.published.replace(tzinfo=timezone.utc) == now
    assert not dated.undated and dated.published.replace(tzinfo=timezone.utc) == when
    assert dated.content_hash == article(2).content_hash


def test_corrections_override_model_labels_and_survive_reclassification(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    a = article(1)
    upsert_items(store, [a])
    verdict = Classification(True, 0.9, [IssueLabel("trade", 0.8, [Evidence("Body 1 about tariffs.", 9, 30)])])
    save_classifications(store, [(a.item_id, verdict)], "v1")
    assert [lab.issue_id for lab in labels_for(store, [a.item_id])[a.item_id]] == ["trade"]
    add_correction(store, a.item_id, "trade", "remove")
    add_correction(store, a.item_id, "taiwan", "add")
    assert [lab.issue_id for lab in labels_for(store, [a.item_id])[a.item_id]] == ["taiwan"]
    save_classifications(store, [(a.item_id, verdict)], "v2")  # a refit does not undo analysts
    labels = labels_for(store, [a.item_id])[a.item_id]
    assert [(lab.issue_id, lab.origin) for lab in labels] == [("taiwan", "correction")]
