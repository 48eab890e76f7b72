"""A small, realistic newsroom for digest tests: a week of earlier items and one day of news.

Items go in through the store's own functions (`upsert_items` with a chosen first-seen time,
`save_classifications` with labels and evidence), stories through the `stories` table and
`items.story_id`, the way the stories engine writes them. One item is hostile throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flows.records import Article, Classification, Evidence, IssueLabel
from flows.store import Store
from flows.store.items import save_classifications, upsert_items
from flows.store.schema import Item, Story

UNTIL = datetime(2026, 5, 12, 11, 0, tzinfo=timezone.utc)  # 07:00 in New York
SINCE = UNTIL - timedelta(days=1)

HOSTILE_TITLE = '<script>alert("x")</script><img src=x onerror=alert(1)> Taiwan & "trade"'
HOSTILE_SUMMARY = (
    '<p onclick="steal()">Feed <b>summary</b> <a href="javascript:alert(1)">click</a> '
    '<a href="https://news.example.org/ok">read</a><img src="https://tracker.example/p.gif">'
    '<script>alert(2)</script><iframe src="https://evil.example"></iframe>'
    '<a href="data:text/html;base64,PHNjcmlwdD4=">data</a></p>'
)


@dataclass
class Piece:
    source: str
    title: str
    sentences: list[str]
    issues: dict[str, float]  # issue id -> score
    story: str | None = None
    hours_ago: float = 3.0
    url: str | None = None
    summary_html: str | None = None
    relevance: float = 0.8
    evidence: bool = True  # False: labels without evidence (as an analyst's correction)


def _body(p: Piece) -> str:
    if p.summary_html:  # a feed entry whose page gave no full text
        return " ".join(p.sentences)
    filler = [
        "Officials on both sides said further talks were planned in the coming weeks.",
        "Analysts said the move reflected a broader pattern in relations between the two powers.",
        "Markets in Asia reacted cautiously to the news on Tuesday morning.",
        "The foreign ministry in Beijing did not respond to a request for comment.",
    ]
    return " ".join(p.sentences) + "\n\n" + " ".join(filler)


TODAY: list[Piece] = [
    Piece(
        "Reuters",
        "US approves $2 billion arms package for Taiwan as PLA drills continue",
        [
            "The State Department approved a $2 billion sale of air-defence systems to Taiwan on Monday, "
            "days after China staged large-scale military drills around the island.",
            "Beijing said the sale gravely violated its sovereignty and vowed countermeasures.",
        ],
        {"taiwan": 0.95, "military": 0.7},
        story="s-taiwan-arms",
        hours_ago=10,
    ),
    Piece(
        "AP",
        "Washington clears air-defence sale to Taiwan; Beijing vows response",
        [
            "Washington cleared the sale of air-defence missiles to Taiwan, drawing an angry response "
            "from Beijing, which claims the island as its own."
        ],
        {"taiwan": 0.93},
        story="s-taiwan-arms",
        hours_ago=9,
    ),
    Piece(
        "BBC News",
        "China condemns new US weapons sale to Taiwan",
        [
            "China has condemned a new US weapons sale to Taiwan, the latest in a series of packages "
            "approved by Washington."
        ],
        {"taiwan": 0.9},
        story="s-taiwan-arms",
        hours_ago=8,
    ),
    Piece(
        "The Guardian",
        "Taiwan arms deal deepens rift between Washington and Beijing",
        ["A fresh US arms deal with Taiwan has deepened the rift between the world's two largest economies."],
        {"taiwan": 0.88},
        story="s-taiwan-arms",
        hours_ago=7,
    ),
    Piece(
        "South China Morning Post",
        "Taiwan's president transits Hawaii, drawing Beijing's ire",
        [
            "Taiwan's president stopped over in Honolulu on Monday on the way to Pacific allies, "
            "prompting a warning from Beijing."
        ],
        {"taiwan": 0.85, "diplomacy": 0.4},
        hours_ago=6,
    ),
    Piece(
        "The Diplomat",
        "PLA aircraft cross Taiwan Strait median line in record numbers",
        [
            "Taiwan's defence ministry said 45 Chinese military aircraft crossed the median line of the "
            "Taiwan Strait on Monday, a record for a single day."
        ],
        {"taiwan": 0.8, "military": 0.75},
        hours_ago=5,
    ),
    Piece(
        "Reuters",
        "Beijing hits US farm goods with new tariffs after duty increase",
        [
            "China will impose tariffs of up to 15 percent on US soybeans, pork and beef from next month, "
            "the finance ministry said, in retaliation for higher US duties on Chinese goods."
        ],
        {"trade": 0.92, "economy": 0.5},
        story="s-tariffs",
        hours_ago=12,
    ),
    Piece(
        "Nikkei Asia",
        "China retaliates against US tariffs with levies on agriculture",
        ["China retaliated against the latest US tariff increase with levies on American agricultural products."],
        {"trade": 0.9},
        story="s-tariffs",
        hours_ago=11,
    ),
    Piece(
        "South China Morning Post",
        "Soybean farmers brace as China answers US tariffs",
        ["American soybean farmers are bracing for lost sales after China answered the new US tariffs."],
        {"trade": 0.85},
        story="s-tariffs",
        hours_ago=11,
    ),
    Piece(
        "Reuters",
        "US widens chip export controls to cover advanced memory",
        [
            "The Commerce Department widened export controls on advanced semiconductors to cover "
            "high-bandwidth memory chips used in artificial intelligence.",
            "Chinese firms including two memory makers were added to the Entity List.",
        ],
        {"technology": 0.94, "trade": 0.4},
        story="s-chips",
        hours_ago=14,
    ),
    Piece(
        "The Diplomat",
        "New US chip rules target China's AI ambitions",
        ["New US export rules target the memory chips that power China's artificial intelligence ambitions."],
        {"technology": 0.9},
        story="s-chips",
        hours_ago=13,
    ),
    Piece(
        "AP",
        "US and China resume counter-narcotics talks on fentanyl",
        [
            "US and Chinese officials met in Beijing to resume a counter-narcotics working group focused "
            "on fentanyl precursor chemicals."
        ],
        {"fentanyl": 0.93, "diplomacy": 0.5},
        hours_ago=4,
    ),
    Piece(
        "Reuters",
        "US and Chinese defence chiefs hold first call in 18 months",
        [
            "The US defence secretary and his Chinese counterpart held their first call in 18 months, "
            "agreeing to keep military channels open."
        ],
        {"military": 0.9, "diplomacy": 0.6},
        story="s-defence",
        hours_ago=15,
    ),
    Piece(
        "BBC News",
        "Pentagon and PLA chiefs talk as tensions simmer",
        ["The Pentagon chief spoke with China's defence minister as tensions simmered over the South China Sea."],
        {"military": 0.88},
        story="s-defence",
        hours_ago=15,
    ),
    Piece(
        "The Guardian",
        "Hong Kong jails activists under national security law; US condemns verdict",
        [
            "A Hong Kong court jailed six pro-democracy activists under the national security law, "
            "a verdict the US State Department called politically motivated."
        ],
        {"human_rights": 0.9},
        hours_ago=16,
    ),
    Piece(
        "BBC News",
        "Climate envoys meet in Beijing ahead of COP talks",
        [
            "The US and Chinese climate envoys met in Beijing to discuss methane and coal ahead of the "
            "next UN climate talks."
        ],
        {"climate": 0.9, "diplomacy": 0.45},
        hours_ago=17,
    ),
    Piece(
        "AP",
        "FBI warns Chinese state hackers are inside US water utilities",
        [
            "The FBI warned that hackers backed by the Chinese state had gained access to the networks "
            "of several US water utilities."
        ],
        {"cyber": 0.92},
        story="s-hackers",
        hours_ago=18,
    ),
    Piece(
        "Reuters",
        "Chinese hacking group targeted US infrastructure, officials say",
        ["A Chinese hacking group targeted US critical infrastructure for months, officials said."],
        {"cyber": 0.9},
        story="s-hackers",
        hours_ago=18,
    ),
    Piece(
        "Nikkei Asia",
        "China's exports slow as US demand weakens",
        ["China's exports grew at their slowest pace in a year in April as demand from the United States weakened."],
        {"economy": 0.85, "trade": 0.5},
        hours_ago=19,
    ),
    Piece(
        "AP",
        "Giant pandas arrive in San Diego in a sign of warming ties",
        [
            "Two giant pandas from China arrived at the San Diego Zoo, the first to come to the United "
            "States in more than two decades."
        ],
        {},
        hours_ago=20,
    ),
    Piece(
        "Evil <b>Feed</b>",
        HOSTILE_TITLE,
        [
            "Beijing warned Washington over arms sales to Taiwan. <iframe src=//evil></iframe> "
            "The US State Department approved the package."
        ],
        {"people": 0.6},
        hours_ago=2,
        url="javascript:alert(1)",
        summary_html=HOSTILE_SUMMARY,
        evidence=False,
    ),
]

# Earlier days: (days before SINCE, issue, how many single-source stories)
EARLIER = (
    [(d, "taiwan", 1) for d in range(1, 7)]
    + [(d, "trade", 4) for d in range(1, 7)]
    + [(d, "technology", 2) for d in (1, 3, 5)]
    + [(d, "military", 1) for d in (2, 4, 6)]
    + [(d, "cyber", 1) for d in (1, 2)]
    + [(2, "climate", 1)]
)


def _article(p: Piece, n: int) -> Article:
    slug = f"{p.source.lower().replace(' ', '-')}-{n}"
    return Article(
        key=f"https://news.example.org/{slug}",
        source=p.source,
        source_kind="feed",
        url=p.url or f"https://news.example.org/{slug}",
        title=p.title,
        text=_body(p),
        published=None,
        summary_html=p.summary_html,
    )


def _classification(p: Piece) -> Classification:
    evidence = [Evidence(p.sentences[0], 0, len(p.sentences[0]))] if p.evidence else []
    labels = [IssueLabel(issue, score, evidence) for issue, score in p.issues.items()]
    return Classification(relevant=True, relevance=p.relevance, issues=labels)


def add_pieces(store: Store, pieces: list[Piece], now: datetime, start: int = 0) -> list[str]:
    """Store pieces as items first seen `hours_ago` before `now`; group them into their stories."""
    ids = []
    for n, p in enumerate(pieces, start):
        article = _article(p, n)
        upsert_items(store, [article], now=now - timedelta(hours=p.hours_ago))
        save_classifications(store, [(article.item_id, _classification(p))], "test")
        ids.append(article.item_id)
    with store.session() as s:
        for item_id, p in zip(ids, pieces):
            if p.story is None:
                continue
            item = s.get(Item, item_id)
            item.story_id = p.story
            story = s.get(Story, p.story)
            if story is None:
                s.add(
                    Story(
                        id=p.story,
                        representative_id=item_id,
                        title=p.title,
                        first_seen=item.first_seen,
                        last_seen=item.first_seen,
                        n_items=1,
                    )
                )
                s.flush()
            else:
                story.n_items += 1
    return ids


def earlier_pieces() -> list[tuple[Piece, datetime]]:
    out = []
    for days, issue, count in EARLIER:
        for k in range(count):
            p = Piece(
                "Reuters" if k % 2 else "AP",
                f"Earlier {issue} story {days}-{k}",
                [
                    f"An earlier report number {k} about {issue.replace('_', ' ')} between the two countries "
                    f"was published {days} days before the digest."
                ],
                {issue: 0.8},
                hours_ago=3,
            )
            out.append((p, SINCE - timedelta(days=days - 1)))
    return out


def build_newsroom(store: Store, with_history: bool = True) -> None:
    """The whole newsroom: a week of earlier stories (for trends and movers), then today's news."""
    if with_history:
        for n, (p, now) in enumerate(earlier_pieces()):
            add_pieces(store, [p], now, start=1000 + n)
    add_pieces(store, TODAY, UNTIL)
