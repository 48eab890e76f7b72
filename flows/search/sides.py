"""Which side of the US–China story an item's outlet speaks for: `side:china`, `side:us`, `side:other`.

Kept apart so the outlet catalogue (per-item outlet and country, another part of the project) can
replace it: when the items table has a `side` column, or a `country` column, the search reads
that (`flows.store.search`); otherwise it falls back to this small mapping of outlets by the
domain of their URLs and their names. An item no entry names is on the "other" side.
"""

from __future__ import annotations

# side -> lower-case fragments of a URL's host or of the outlet's name
OUTLETS: dict[str, tuple[str, ...]] = {
    "china": (
        "xinhuanet.com",
        "news.cn",
        "chinadaily.com.cn",
        "globaltimes.cn",
        "cgtn.com",
        "people.com.cn",
        "chinanews.com",
        "fmprc.gov.cn",
        "mofcom.gov.cn",
        "gov.cn",
        "ecns.cn",
        "cctv.com",
        "china.org.cn",
        "xinhua",
        "china daily",
        "global times",
        "cgtn",
        "people's daily",
        "cctv",
    ),
    "us": (
        "whitehouse.gov",
        "state.gov",
        "commerce.gov",
        "bis.doc.gov",
        "ustr.gov",
        "treasury.gov",
        "defense.gov",
        "congress.gov",
        "senate.gov",
        "house.gov",
        "voanews.com",
        "rfa.org",
        "white house",
        "state department",
        "voice of america",
        "radio free asia",
    ),
}

# ISO country codes of an item's outlet (when the store records them) -> side
COUNTRY_SIDES: dict[str, str] = {"cn": "china", "hk": "china", "mo": "china", "us": "us"}


def countries_for(side: str) -> list[str]:
    """The country codes (lower case) that count as this side; none for "other"."""
    return [code for code, s in COUNTRY_SIDES.items() if s == side]


def fragments_for(side: str) -> tuple[str, ...]:
    return OUTLETS.get(side, ())


def side_of(source: str, url: str) -> str:
    """The side of an item by its outlet's name and URL (the fallback mapping)."""
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    name = source.lower()
    for side, fragments in OUTLETS.items():
        if any(f in host or f in name for f in fragments):
            return side
    return "other"
