from flows.stories.canonical import canonical_url


def test_tracking_parameters_and_fragment_are_dropped():
    a = canonical_url("https://www.example.com/news/story.html?utm_source=rss&utm_medium=feed&fbclid=x#comments")
    assert a == "https://example.com/news/story.html"


def test_identifying_query_parameters_are_kept_in_a_stable_order():
    assert canonical_url("https://example.com/article?id=5&page=2") == canonical_url(
        "https://example.com/article?page=2&id=5&utm_campaign=x"
    )
    assert canonical_url("https://example.com/article?id=5") != canonical_url("https://example.com/article?id=6")


def test_amp_and_mobile_variants_match_the_desktop_page():
    desktop = canonical_url("https://www.example.com/world/asia/story")
    assert canonical_url("https://m.example.com/world/asia/story/") == desktop
    assert canonical_url("https://amp.example.com/world/asia/story") == desktop
    assert canonical_url("https://www.example.com/amp/world/asia/story") == desktop
    assert canonical_url("https://www.example.com/world/asia/story?amp=1") == desktop
    assert canonical_url("https://www.example.com/2023/07/20/story.amp.html?smid=tw-share") == canonical_url(
        "http://example.com/2023/07/20/story.html"
    )


def test_different_articles_stay_different():
    assert canonical_url("https://example.com/a/story-1") != canonical_url("https://example.com/a/story-2")
    assert canonical_url("https://example.com/story") != canonical_url("https://example.org/story")


def test_non_web_urls_have_no_canonical_form():
    for value in (None, "", "002_4535c379219a8ba7.txt", "mailto:x@example.com", "ftp://example.com/a"):
        assert canonical_url(value) is None
