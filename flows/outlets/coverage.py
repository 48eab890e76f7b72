"""Each story knows who covered it: its sources by side and kind, a one-sided flag, and what
each government said.

Sides count outlets, not items (three Xinhua copies are one Chinese source). A story is
one-sided when only one of the two capitals' sides covered it (US outlets and officials, or PRC
ones), whatever third countries did. A government "spoke" on a story when one of its officials
or ministries (config/actors.yaml) is quoted in it, or its own site (kind `official`) is one of
the story's sources.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from flows.outlets import KIND_WORDS, Source

CAPITAL = {"us": "Washington", "china": "Beijing"}
ADJECTIVE = {"us": "US", "china": "Chinese"}
STATEMENT_CHARS = 240


@dataclass
class Coverage:
    outlets: dict[str, list[Source]] = field(default_factory=dict)  # side -> distinct sources

    @classmethod
    def of(cls, sources: list[Source]) -> "Coverage":
        by_side: dict[str, dict[str, Source]] = {}
        for src in sources:
            key = src.outlet or "?"
            by_side.setdefault(src.side, {}).setdefault(key, src)
        return cls({side: list(found.values()) for side, found in by_side.items()})

    def count(self, side: str) -> int:
        return len(self.outlets.get(side, []))

    def kinds(self, side: str) -> Counter:
        return Counter(s.kind or "unknown" for s in self.outlets.get(side, []))

    @property
    def one_sided(self) -> bool:
        return (self.count("us") > 0) != (self.count("china") > 0)

    @property
    def only_side(self) -> str | None:
        if not self.one_sided:
            return None
        return "us" if self.count("us") else "china"

    def line(self, country_name=lambda code: code) -> str:
        """ "US 4 · China state 2 · China official 1 · other 3", or "covered only by Chinese state
        media" when one side alone covered it."""
        side = self.only_side
        others = self.count("other")
        if not side and not others and not self.count("us") and not self.count("china"):
            return ""  # nothing known about the sources (seed files): no line
        if side is not None and not others:
            kinds = [k for k, _ in self.kinds(side).most_common()]
            words = _join([KIND_WORDS.get(k, "sources") for k in kinds if k != "unknown"] or ["sources"])
            who = (
                "media"
                if all(k in ("state", "public", "independent", "wire") for k in kinds) and len(kinds) > 1
                else words
            )
            return f"covered only by {ADJECTIVE[side]} {who}"
        parts = []
        if self.count("us"):
            parts.append(f"US {self.count('us')}")
        for kind, n in sorted(self.kinds("china").items(), key=lambda kv: (-kv[1], kv[0])):
            parts.append(f"China {kind.replace('_', ' ') if kind != 'unknown' else ''} {n}".replace("  ", " "))
        if others:
            parts.append(f"other {others}")
        if self.count("unknown"):
            parts.append(f"unidentified {self.count('unknown')}")
        line = " · ".join(parts)
        if side is not None:
            line += f" · no {ADJECTIVE['china' if side == 'us' else 'us']} source"
        return line

    def other_countries(self) -> list[str]:
        return sorted({s.country for s in self.outlets.get("other", []) if s.country})

    def to_dict(self) -> dict:
        return {
            "one_sided": self.one_sided,
            "sides": {
                side: {
                    "outlets": len(found),
                    "kinds": dict(Counter(s.kind or "unknown" for s in found)),
                    "countries": dict(Counter(s.country or "unknown" for s in found)),
                    "names": sorted(s.outlet or "?" for s in found),
                }
                for side, found in sorted(self.outlets.items())
            },
        }


def _join(words: list[str]) -> str:
    words = list(dict.fromkeys(words))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass
class Statement:
    """What one government said on a story: the words, who said them, where (outlet and link)."""

    side: str
    text: str
    speaker: str
    role: str | None
    source: str
    link: str | None

    @property
    def capital(self) -> str:
        return CAPITAL[self.side]

    def to_dict(self) -> dict:
        return {
            "side": self.side,
            "text": self.text,
            "speaker": self.speaker,
            "role": self.role,
            "source": self.source,
            "link": self.link,
        }


def _short(text: str, limit: int = STATEMENT_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def statements(members: list[dict], actors) -> dict[str, Statement]:
    """Each government's statement on a story, from its members
    ({"source": Source, "quotes": [{speaker, role, text}], "summary", "link", "outlet"}).

    First choice, the words of one of its listed officials or ministries (the longest quote, from
    the government's own site when it has one); else the summary of an item from its own site."""
    out: dict[str, Statement] = {}
    for side in ("us", "china"):
        best: tuple | None = None
        for rank, m in enumerate(members):
            official_site = m["source"].kind == "official" and m["source"].side == side
            for q in m["quotes"]:
                actor = actors.find(q["speaker"]) if actors is not None else None
                if actor is None or actor.side != side or actor.type not in ("official", "ministry"):
                    continue
                key = (not official_site, -min(len(q["text"]), STATEMENT_CHARS), rank)
                if best is None or key < best[0]:
                    best = (
                        key,
                        Statement(
                            side, _short(q["text"]), actor.name, q.get("role") or actor.role, m["outlet"], m["link"]
                        ),
                    )
        if best is None:
            for m in members:
                if m["source"].kind == "official" and m["source"].side == side and m["summary"]:
                    best = ((), Statement(side, _short(m["summary"]), m["outlet"], None, m["outlet"], m["link"]))
                    break
        if best is not None:
            out[side] = best[1]
    return out
