"""Who said what: direct quotations in a text, each with the speaker it is attributed to.

Rules, no model: a quotation is a double-quoted span (curly or straight; one left open at a
paragraph's end closes there, as news style continues a quote into the next paragraph). Its
speaker comes from the attribution the sentence gives, tried in this order:

1. right after the quote: `"…," said Chong Ja Ian, an associate professor …`, `"…," Blinken
   told CNN`, `"…," he added` (a pronoun is the person last named or quoted);
2. closing the sentence, inverted: `Though they "…", the two sides would meet, said Kerry.`;
3. before the quote: `Wang insisted this cooperation "…"`, `Parise said: "…"`;
4. otherwise the speaker of a quote in the same sentence, of the sentence before (a quote that
   opens the next sentence), or of the paragraph before (a paragraph that is all quote).

A span with none of these is not kept: titles, terms, taglines and scare quotes have no speaker.
Names are expanded to the fullest form the text gives ("Shen" → "Shen Dingli", "Li" after
"Premier Li Qiang" → "Li Qiang"), and a role is taken from the apposition or the title before
the name ("said Yun Sun, director of the China Program …", "Treasury chief Janet Yellen").
`flows.quotes.speakers` then merges speakers across a story's items.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

VERSION = "quotes-1"

OPENING, CLOSING = "\u201c", "\u201d"
QUOTE_MARKS = (OPENING, CLOSING, '"')


@dataclass(frozen=True)
class Quote:
    """A quotation: its text (without the marks) and offsets of the quoted span in the text
    (marks included), the speaker as the text names them and their role, when given."""

    text: str
    start: int
    end: int
    speaker: str
    role: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------ vocabulary

SPEECH_VERBS = (
    "said",
    "says",
    "say",
    "told",
    "tells",
    "added",
    "adds",
    "adding",
    "stressed",
    "stresses",
    "insisted",
    "insists",
    "noted",
    "warned",
    "warns",
    "wrote",
    "writes",
    "tweeted",
    "argued",
    "argues",
    "explained",
    "explains",
    "emphasized",
    "emphasised",
    "emphasizing",
    "asked",
    "asks",
    "replied",
    "acknowledged",
    "acknowledges",
    "testified",
    "stated",
    "stating",
    "claimed",
    "urged",
    "urges",
    "recalled",
    "continued",
    "remarked",
    "declared",
    "announced",
    "cautioned",
    "conceded",
    "admitted",
    "suggested",
    "pledged",
    "vowed",
    "promised",
    "complained",
    "joked",
    "commented",
    "observed",
    "countered",
    "responded",
    "contended",
    "asserted",
    "lamented",
    "predicted",
    "described",
    "describes",
    "telling",
    "saying",
    "weighed in",
    "pointed out",
    "went on",
    "sought to impress",
    "called",
    "dubbed",
    "read",
    "reported",
    "blasted",
    "slammed",
    "rejected",
    "dismissed",
    "denied",
    "condemned",
    "criticized",
    "criticised",
    "hailed",
    "praised",
    "begged",
    "pleaded",
    "implored",
    "appealed",
    "warning",
    "ruled",
    "reiterated",
    "affirmed",
    "charged",
    "accused",
)
# Verbs that can stand before their subject ("said Kerry"): only these make the inverted form.
INVERTING_VERBS = (
    "said",
    "says",
    "added",
    "adds",
    "wrote",
    "writes",
    "comments",
    "asked",
    "continued",
    "explained",
    "noted",
    "recalled",
    "replied",
    "tweeted",
    "warned",
    "insisted",
)

TITLE_WORDS = {
    "secretary",
    "minister",
    "president",
    "premier",
    "envoy",
    "chief",
    "spokesperson",
    "spokesman",
    "spokeswoman",
    "diplomat",
    "director",
    "professor",
    "administrator",
    "ambassador",
    "governor",
    "gov.",
    "sen.",
    "senator",
    "rep.",
    "representative",
    "congressman",
    "congresswoman",
    "ceo",
    "chairman",
    "chairwoman",
    "chair",
    "coach",
    "dr.",
    "dr",
    "mr.",
    "mr",
    "mrs.",
    "mrs",
    "ms.",
    "ms",
    "prof.",
    "gen.",
    "general",
    "lt.",
    "col.",
    "adm.",
    "admiral",
    "leader",
    "officer",
    "adviser",
    "advisor",
    "counsel",
    "attorney",
    "speaker",
    "commissioner",
    "mayor",
    "founder",
    "co-founder",
    "head",
    "editor",
    "editor-in-chief",
    "analyst",
    "scholar",
    "strategist",
    "manager",
    "economist",
    "executive",
    "vice",
    "deputy",
    "press",
    "defenseman",
    "defender",
    "winger",
    "goalie",
    "captain",
    "centre",
    "center",
    "forward",
    "guard",
    "correspondent",
    "reporter",
    "prosecutor",
    "judge",
    "justice",
    "chancellor",
    "king",
    "queen",
    "prince",
    "pope",
    "state",
    "councillor",
    "councilor",
    "lawmaker",
    "legislator",
    "lawyer",
    "researcher",
    "fellow",
    "associate",
    "assistant",
    "official",
    "negotiator",
    "superintendent",
    "principal",
    "inspector",
    "member",
    "partner",
    "designer",
    "player",
    "star",
    "author",
    "host",
    "anchor",
    "treasurer",
    "comptroller",
    "registrar",
}
HONORIFICS = {
    "dr.",
    "dr",
    "mr.",
    "mr",
    "mrs.",
    "mrs",
    "ms.",
    "ms",
    "prof.",
    "sen.",
    "rep.",
    "gov.",
    "gen.",
    "lt.",
    "col.",
    "adm.",
    "sgt.",
    "capt.",
    "rev.",
    "sir",
    "dame",
    "lord",
}
NOT_NAMES = {
    "the",
    "a",
    "an",
    "this",
    "that",
    "these",
    "those",
    "it",
    "its",
    "in",
    "on",
    "at",
    "but",
    "and",
    "or",
    "so",
    "as",
    "if",
    "when",
    "while",
    "after",
    "before",
    "since",
    "meanwhile",
    "however",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "i",
    "we",
    "you",
    "he",
    "she",
    "they",
    "there",
    "here",
    "then",
    "now",
    "also",
    "still",
    "yet",
    "even",
    "only",
    "both",
    "all",
    "some",
    "many",
    "most",
    "one",
    "two",
    "according",
    "asked",
    "speaking",
    "earlier",
    "later",
    "last",
    "next",
    "today",
    "yesterday",
}
ORG_WORDS = {
    "university",
    "center",
    "centre",
    "department",
    "ministry",
    "committee",
    "council",
    "office",
    "agency",
    "association",
    "institute",
    "program",
    "programme",
    "foundation",
    "group",
    "party",
    "house",
    "court",
    "commission",
    "bank",
    "times",
    "post",
    "news",
    "league",
    "union",
    "authority",
    "administration",
    "government",
    "company",
    "corporation",
    "corp.",
    "inc.",
    "inc",
    "co.",
    "productions",
    "services",
    "coalition",
    "forum",
    "school",
    "college",
    "hospital",
    "army",
    "navy",
    "police",
    "military",
    "media",
    "network",
    "daily",
    "press",
    "review",
    "journal",
}
PRONOUNS = {"he", "she", "they", "it", "we"}
# Chinese (and Singaporean, Taiwanese) names put the surname first: "Wang" is Wang Yi, "Chong" Chong Ja Ian
CHINESE_SURNAMES = set(
    """Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun Hu Zhu Gao Lin He Guo Ma Luo Liang
Song Zheng Xie Han Tang Feng Yu Dong Xiao Cheng Cao Yuan Deng Fu Shen Zeng Peng Lu Su Jiang Cai Jia Ding Wei
Xue Ye Yan Pan Du Dai Xia Zhong Tian Ren Fan Fang Shi Yao Tan Liao Zou Xiong Jin Hao Kong Bai Cui Kang Mao Qiu
Qin Gu Hou Shao Meng Long Wan Duan Lei Qian Yin Yi Chang Wen Niu Xi Hua Qi Chong Lai Tsai Ko Chu Kuo Hsu Chiang
Teo Goh Ong Lee Lim Tan Ng Wong Chan Leung Cheung Lau Ho Yip Tse Kwok""".split()
)
# lowercase words that may open a sentence before its subject's name: "Wild defenseman Ryan Suter",
# "Last week State Department official David Holmes"
OPENER_WORDS = TITLE_WORDS | {
    "the",
    "a",
    "an",
    "former",
    "top",
    "senior",
    "veteran",
    "acting",
    "then",
    "new",
    "week",
    "month",
    "year",
    "night",
    "morning",
    "evening",
    "afternoon",
    "last",
    "this",
    "but",
    "and",
    "yet",
    "so",
    "meanwhile",
    "however",
    "still",
    "also",
}
PARTICLES = {"de", "da", "van", "von", "der", "den", "la", "le", "du", "bin", "al", "del", "di", "el", "ibn"}

_WORD = r"[^\W\d_][\w'’.\-]*"
_CAP_TOKEN = re.compile(r"^(?:[A-Z]|[^\W\d_a-z])[\w'’.\-]*$")
_VERB_ALT = "|".join(sorted((re.escape(v).replace(r"\ ", r"\s+") for v in SPEECH_VERBS), key=len, reverse=True))
_VERB = re.compile(rf"\b(?:{_VERB_ALT})\b")
_INVERT_ALT = "|".join(INVERTING_VERBS)
_ABBREVIATIONS = (
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
    "Prof",
    "Sen",
    "Rep",
    "Gov",
    "Gen",
    "Lt",
    "Col",
    "St",
    "Jr",
    "Sr",
    "Adm",
    "Sgt",
    "Capt",
    "Rev",
    "Inc",
    "Corp",
    "Co",
    "No",
    "vs",
    "U.S",
    "U.N",
    "U.K",
    "E.U",
    "a.m",
    "p.m",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Aug",
    "Sept",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


# ------------------------------------------------------------------ quoted spans and sentences


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each double-quoted span, marks included; paragraphs (lines) bound them:
    a quote left open at a paragraph's end closes there, and a new opening mark closes the one
    before (news style continues a quote in the next paragraph with a fresh opening mark)."""
    out: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        i, n = 0, len(line)
        while i < n:
            if line[i] in (OPENING, '"'):
                j = i + 1
                while j < n and line[j] not in (CLOSING, '"', OPENING):
                    j += 1
                if j < n and line[j] == OPENING:
                    out.append((pos + i, pos + j))
                    i = j
                    continue
                end = n if j >= n else j + 1
                out.append((pos + i, pos + end))
                i = end
                continue
            i += 1
        pos += n + 1
    return out


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with every quote's inside replaced by spaces, so its words and full stops are
    not taken for attribution or sentence ends (offsets unchanged)."""
    chars = list(text)
    for start, end in spans:
        closed = text[end - 1] in (CLOSING, '"') and end - 1 > start
        last = end - 1 if closed else end
        for k in range(start + 1, last):
            if chars[k] != "\n" and not (closed and k == last - 1 and chars[k] in ".!?"):
                chars[k] = " "  # a quote's own final stop still ends the sentence
    return "".join(chars)


_SENTENCE_END = re.compile(r"[.!?…](?=[\"”’)]?\s+(?:[\"“(\[]|[A-Z0-9]))")


def sentence_bounds(masked: str) -> list[tuple[int, int]]:
    """Sentences of a masked text: split at line breaks and at . ! ? before a capital, not after
    an abbreviation or an initial ("Mr. Blinken", "U.S. officials", "John F. Kennedy")."""
    out: list[tuple[int, int]] = []
    pos = 0
    for line in masked.split("\n"):
        start = 0
        for m in _SENTENCE_END.finditer(line):
            before = line[max(0, m.start() - 6) : m.start()]
            word = re.search(r"([\w.]+)$", before)
            token = word.group(1) if word else ""
            if (
                token in _ABBREVIATIONS
                or (len(token) == 1 and token.isupper())
                or re.fullmatch(r"(?:[A-Z]\.)+[A-Z]", token)
            ):
                continue
            end = m.end()
            # a closing quote mark right after the stop belongs to this sentence
            while end < len(line) and line[end] in (CLOSING, '"', "’", ")"):
                end += 1
            out.append((pos + start, pos + end))
            start = end
        out.append((pos + start, pos + len(line)))
        pos += len(line) + 1
    return [(s, e) for s, e in out if e > s]


# ------------------------------------------------------------------ speaker phrases


@dataclass
class Speaker:
    name: str
    role: str | None = None
    pronoun: bool = False
    nominal: bool = False  # "the spokesperson", "the physicians": a description, not a name


def _tokens(phrase: str) -> list[str]:
    return re.findall(r"[\w'’.\-]+", phrase)


def _is_cap(token: str) -> bool:
    return bool(_CAP_TOKEN.match(token)) and token.lower() not in NOT_NAMES


def split_title(run: list[str]) -> tuple[list[str], list[str]]:
    """A run of capitalised words cut into (title, name) at its last title word:
    "White House Press Secretary Stephanie Grisham" → title up to "Secretary", name "Stephanie Grisham"."""
    last = -1
    for k, tok in enumerate(run[:-1]):
        if tok.lower().strip(".") in TITLE_WORDS or tok.lower() in TITLE_WORDS:
            last = k
    return run[: last + 1], run[last + 1 :]


def _strip_honorifics(run: list[str]) -> list[str]:
    while len(run) > 1 and run[0].lower() in HONORIFICS:
        run = run[1:]
    return run


STOPS = {
    "by",
    "in",
    "at",
    "on",
    "of",
    "for",
    "from",
    "with",
    "as",
    "who",
    "which",
    "that",
    "when",
    "and",
    "or",
    "to",
    "about",
    "via",
    "during",
    "after",
    "before",
    "signed",
    "if",
    "while",
    "because",
}
_AFTER_NAME = ("of", "in", "at", "on", "for", "who", "from", "when", "during", "via", "to")


def _cap_runs(words: list[str]) -> list[tuple[int, int]]:
    """Maximal runs of capitalised words (particles and "of" inside a run allowed)."""
    runs = []
    k = 0
    while k < len(words):
        if _is_cap(words[k]) or _surname_he(words, k):
            j = k + 1
            while j < len(words) and (
                _is_cap(words[j])
                or (words[j].lower() in PARTICLES | {"of"} and j + 1 < len(words) and _is_cap(words[j + 1]))
            ):
                j += 1
            runs.append((k, j))
            k = j
        else:
            k += 1
    return runs


def _surname_he(words: list[str], k: int) -> bool:
    """ "He" before a capitalised word is the Chinese surname ("said He Yongqian"), not "he"."""
    return words[k] == "He" and k + 1 < len(words) and _is_cap(words[k + 1])


def _lead_ok(lead: list[str]) -> bool:
    """Words before a name that can belong to its noun phrase: a determiner, modifiers, a title
    ("China's top diplomat", "Shanghai-based international relations scholar", "the 14th-ranked"),
    not a clause ("he asked about the", "Disney's tech teams isolated the problem")."""
    if any(w.lower() in STOPS - {"of"} for w in lead) or "of" in (w.lower() for w in lead[-2:]):
        return False
    if "of" in (w.lower() for w in lead) and not any(w.lower().strip(".") in TITLE_WORDS for w in lead):
        return False
    return (
        len(lead) <= 4
        or lead[-1].lower().strip(".") in TITLE_WORDS
        or any(w.lower().strip(".") in TITLE_WORDS for w in lead[-2:])
    )


def parse_speaker(phrase: str, whole: bool = False) -> Speaker | None:
    """The speaker a short phrase names: a pronoun, a name (with the title before it as role),
    or a description ("the spokesperson", "a WeWork spokesperson"). None for anything else.
    With `whole`, a description must be the whole phrase (it stands right before its verb)."""
    words = _tokens(phrase)
    if not words:
        return None
    if len(words) == 1 and words[0].lower() in PRONOUNS:
        return Speaker(words[0].lower(), pronoun=True)
    runs = _cap_runs(words)
    if (
        len(runs) == 1
        and runs[0][1] == 1
        and words[0].endswith(("'s", "’s"))
        and len(words) <= 5
        and words[-1].lower() in ORG_WORDS | {"ministry", "office", "embassy", "spokesperson", "spokesman"}
    ):
        return Speaker(" ".join(words), nominal=True)  # "Russia's foreign ministry"
    for k0, k1 in reversed(runs):
        rest = words[k1:]
        if rest and rest[0].lower() not in _AFTER_NAME:
            continue
        lead, run = words[:k0], words[k0:k1]
        # a possessive opens the phrase's title: "China's top diplomat Wang", "NASA's Steve Clarke"
        poss = next((k for k in range(len(run) - 1, -1, -1) if run[k].endswith(("'s", "’s"))), None)
        if poss is not None:
            if poss == len(run) - 1:
                return None
            lead, run = lead + run[: poss + 1], run[poss + 1 :]
        if "of" in run:  # "Martin Taylor of Aberdeenshire": a place; "Secretary of State …": a title
            cut = run.index("of")
            if not any(w.lower().strip(".") in TITLE_WORDS for w in run[:cut]):
                run = run[:cut]
        lead_plain = [w for w in lead if not w.endswith(("'s", "’s"))]
        if not _lead_ok(lead_plain):
            if (
                lead
                and lead[0].lower() in ("a", "an", "the")
                and any(w.lower() in ("for", "of") for w in lead)
                and any(w.lower() in TITLE_WORDS for w in lead)
            ):
                return Speaker(" ".join(words), nominal=True)  # "A spokesperson for the British Foreign Office"
            continue
        title, name = split_title(run)
        name = _strip_honorifics(name)
        if not name and title and not lead_plain[1:]:
            # a title without a name: "The United Nations High Commissioner for Human Rights"
            return Speaker(" ".join(words), nominal=True)
        if not name:
            return None
        det = [lead[-1]] if lead and lead[-1].lower() in ("a", "an", "the") else []
        if name[-1].lower() in ORG_WORDS | {"spokesperson", "spokesman", "spokeswoman"} or any(
            w.lower() in ORG_WORDS for w in name
        ):
            return Speaker(" ".join(det + title + name), nominal=True)
        role = " ".join(lead_role(lead) + title) or None
        return Speaker(" ".join(name), role=role)
    if runs and not (words[0].lower() in ("the", "a", "an", "another") and len(words) <= 4 and not _is_cap(words[-1])):
        return None
    # a description: determiner + up to three words, cut at a preposition or clause
    if words[0].lower() in ("the", "a", "an", "another"):
        cut = [words[0]]
        for k, w in enumerate(words[1:], start=1):
            low = w.lower()
            title_of = low == "of" and k + 1 < len(words) and words[k + 1].lower() not in ("the", "a", "an")
            if (low in STOPS and not title_of) or len(cut) == 4:  # "the secretary of state" stays whole
                break
            cut.append(w)
        if whole and len(cut) < len(words):
            return None
        if len(cut) >= 2 and "and" not in (w.lower() for w in words[: len(cut) + 1]):
            return Speaker(" ".join(cut), nominal=True)
    return None


def lead_role(lead: list[str]) -> list[str]:
    """Lowercase words before a name that belong to its title ("climate envoy John Kerry",
    "former White House adviser …"), without the determiner or a number."""
    out: list[str] = []
    for tok in reversed(lead):
        low = tok.lower()
        if (
            low in ("the", "a", "an", "another", "according")
            or low in STOPS
            or re.match(r"^\d", tok)
            or low.endswith("-old")
            or low.endswith("-ranked")
        ):
            break
        out.insert(0, tok)
    return (
        out
        if any(t.lower().strip(".") in TITLE_WORDS for t in out)
        or (out and out[0].lower() in ("former", "top", "chief"))
        else []
    )


# ------------------------------------------------------------------ attribution forms

_LEAD = r"^[\s,;:—–\-]*"
# `"…," said Chong Ja Ian, an associate professor …` / `"…," said the 14th-ranked Schwartzman.`
_AFTER_INVERTED = re.compile(
    rf"{_LEAD}(?:{_INVERT_ALT})\s+(?P<spk>[^,.;:!?\"“”()]{{1,80}}?)"
    rf"(?=\s+(?:in|at|on|when|who|during|before|after|via|from|to|about)\b|[,.;:!?\"“”(]|$)"
    rf"(?P<tail>,[^\"“”]*)?"
)
# `"…," Blinken said` / `"…," he added` / `"…," Thomas Zurbuchen, NASA's …, said in the statement`
_AFTER_SUBJECT = re.compile(
    rf"{_LEAD}(?P<spk>[^,.;:!?\"“”()]{{1,80}}?)(?P<app>,[^\"“”]{{2,160}}?,)?\s+"
    rf"(?:(?:has|had|have|also|then|later|once|again|further|simply|jokingly)\s+)?"
    rf"(?P<verb>{_VERB_ALT})\b"
)
# the sentence's last clause, inverted: `…, said Kerry.`
_FINAL_INVERTED = re.compile(
    rf",\s+(?:{_INVERT_ALT})\s+(?P<spk>[^,.;:!?\"“”()]{{1,80}}?)(?P<tail>,[^\"“”]*)?[.!?]?\s*$"
)
# a sentence of indirect speech opening with its speaker: `Erekat said it was only the latest move …`
_INDIRECT = re.compile(
    r"^\s*(?P<spk>(?:[A-Z][\w'’.\-]*\s+){0,3}[A-Z][\w'’.\-]*|[Hh]e|[Ss]he)\s+(?:also\s+)?"
    r"(?:said|says|added|told|argued|insisted|warned|noted|stressed)\b"
)
_TERM_BEFORE = re.compile(
    r"\b(?:the (?:term|word|words|phrase|label|slogan|name|tagline|nickname)|so-called|"
    r"known as|dubbed|nicknamed|titled|entitled)\s+(?:the\s+|an?\s+)?[\"“]?\s*$",
    re.I,
)
# the sentence's last clause: `…, he told the Treasury chief earlier this month.`
_FINAL_SUBJECT = re.compile(
    r",\s+(?P<spk>[Hh]e|[Ss]he|[Tt]hey|(?:[A-Z][\w'’.\-]*\s+){0,3}[A-Z][\w'’.\-]*)\s+"
    r"(?:said|says|told|added|wrote|warned|insisted|explained|noted|stressed)\b[^,\"“”]*$"
)
_ACCORDING_OPENS = re.compile(r"^\s*According to (?P<spk>[^,;:\"“”]{2,120}),")
_ACCORDING = re.compile(r"\baccording to\s+(?P<spk>[^,.;:!?\"“”()]{1,60}?)\s*[,.]?\s*$")


def _appositive_role(tail: str | None) -> str | None:
    """ ", an associate professor at …" → "an associate professor at …"; None when the tail
    is not an apposition (a clause: ", noting that …", ", who will testify …")."""
    if not tail:
        return None
    body = tail.strip(" ,.;")
    body = re.split(r"[.;]\s|,\s+(?:who|which|noting|adding|saying|referring|according)\b", body)[0].strip(" ,")
    if not body or re.match(
        r"^(?:who|which|noting|adding|saying|referring|when|while|as|but|and|in|at|on|"
        r"via|during|speaking|according)\b",
        body,
    ):
        return None
    return body[:200]


_SPLIT = re.compile(
    r"[,;:—–(\"“”]\s*|\b(?:that|and|but|while|when|as|after|before|because|so|with|saying|telling|"
    r"adding|noting|stating|including)\s+",
    re.I,
)


def sentence_subject(sentence: str) -> Speaker | None:
    """The subject opening a sentence, when it is a name, a pronoun or a description:
    "Boudreau gave his players a pep talk …" → Boudreau."""
    words = _tokens(sentence)[:8]
    while words and words[0].lower() in ("but", "and", "meanwhile", "however", "still", "yet", "so"):
        words = words[1:]
    if words and words[0].lower() in PRONOUNS:
        return Speaker(words[0].lower(), pronoun=True)
    runs = _cap_runs(words)
    if not runs:
        return None
    k0, k1 = runs[0]
    if k0 > 4:
        return None
    end = k1
    for k0b, k1b in runs[1:]:  # "Wild coach Bruce Boudreau": modifiers, a title, then the name
        if all(not _is_cap(w) and w.lower() not in STOPS for w in words[end:k0b]) and k0b - end <= 2:
            end = k1b
        else:
            break
    return parse_speaker(" ".join(words[:end]))


def _speaker_before_verb(masked_before: str, sentence_start: str = "") -> tuple[Speaker | None, str]:
    """The subject of the last speech verb in the text before a quote (same sentence):
    `Wang insisted this cooperation `, `Shi Yinhong, a professor …, said that both `.
    Returns the speaker and the verb found."""
    matches = list(_VERB.finditer(masked_before))
    if not matches:
        return None, ""
    last = matches[-1]
    head = masked_before[: last.start()].rstrip()
    # `Blinken said, adding "…"`: the subject of the verb before
    while True:
        m = re.search(rf"(?:{_VERB_ALT})\s*,?\s*$", head)
        if not m:
            break
        head = head[: m.start()].rstrip()
    if re.search(r"\b(?:would|could|might|may|should|must)\s*$", head):
        return None, last.group(0)
    head = re.sub(
        r"\b(?:has|had|have|also|then|later|once|again|further|simply|repeatedly|however|"
        r"meanwhile|earlier|recently|previously|will)\s*,?$",
        "",
        head,
    ).rstrip(" ,")
    if re.search(r",\s*$", masked_before[: last.start()]):
        pieces = [p.strip() for p in head.split(",")]
        for k in range(len(pieces) - 2, -1, -1):
            phrase = _SPLIT.split(pieces[k])[-1].strip()
            spk = parse_speaker(" ".join(_tokens(phrase)[-7:]), whole=True) if phrase else None
            if spk is not None and not spk.nominal and not spk.pronoun:
                if not spk.role:
                    spk.role = _appositive_role(", " + pieces[k + 1] + ",")
                return spk, last.group(0)
            if spk is not None and spk.pronoun:
                return spk, last.group(0)
    candidates = [head]
    app = re.search(r"^(?P<subj>.*?[^,]),\s+(?P<app>[^,]{2,160}?)$", head)
    if app:
        candidates.append(app.group("subj"))
    for n, cand in enumerate(candidates):
        pieces = _SPLIT.split(cand)
        phrase = pieces[-1].strip()
        if phrase.lower() == "who" and len(pieces) > 1:
            phrase = pieces[-2].strip()  # "a career Army officer who described …"
        elif phrase.lower().endswith(" who"):
            phrase = phrase[:-4]
        if not phrase and re.search(r"\b(?:and|but)\s*$", cand):
            spk = sentence_subject(sentence_start or cand)  # "She didn't give a date, but said …"
            if spk is not None:
                return spk, last.group(0)
            continue
        words = _tokens(phrase)[-7:]
        spk = parse_speaker(" ".join(words), whole=True) if words else None
        if spk is not None:
            if n == 1 and not spk.role:
                spk.role = _appositive_role("," + app.group("app"))
            return spk, last.group(0)
    if re.search(r",\s*$", masked_before[: last.start()]) and last.group(0).endswith("ing"):
        spk = sentence_subject(sentence_start or masked_before)  # "…, telling them to "…""
        if spk is not None:
            return spk, last.group(0)
    return None, last.group(0)


@dataclass
class _Span:
    start: int
    end: int
    para: int
    sentence: int
    speaker: Speaker | None = None
    how: str = ""
    named: bool = False  # a title or a term, not speech


def _words_inside(text: str) -> int:
    return len(text.strip(' "“”,.').split())


def _is_title_case(inner: str) -> bool:
    words = [
        w
        for w in re.findall(r"[\w'’]+", inner)
        if w.lower() not in ("a", "an", "the", "of", "to", "in", "and", "on", "for", "with", "is")
    ]
    return len(words) >= 1 and all(w[0].isupper() or w[0].isdigit() for w in words) and not re.search(r"[.!?]\s", inner)


# ------------------------------------------------------------------ the extractor

# "Dr. Luz Contreras Arroyo", "U.S. Attorney": the stop is no sentence or phrase end (same length)
_HONORIFIC_STOP = re.compile(r"\b(Dr|Mr|Mrs|Ms|Prof|Sen|Rep|Gov|Gen|Lt|Col|Sgt|Capt|Adm|Rev|St|Jr|Sr)\.")
_INITIALISM = re.compile(r"\b([A-Z])\.([A-Z])\.")  # "U.S." → "US  " (same length)


def extract_quotes(text: str) -> list[Quote]:
    """Every direct quotation of `text` with a speaker the text attributes it to, in order."""
    spans = quoted_spans(text)
    if not spans:
        return []
    masked = _masked(text, spans)
    sentences = sentence_bounds(masked)
    para_starts = [m.start() for m in re.finditer(r"(?m)^(?=[^\n]*\S)", text)] or [0]

    def sentence_of(pos: int) -> int:
        for k, (s, e) in enumerate(sentences):
            if s <= pos < e:
                return k
        return len(sentences) - 1

    def para_of(pos: int) -> int:
        lo = 0
        for k, start in enumerate(para_starts):
            if start <= pos:
                lo = k
        return lo

    items = [_Span(s, e, para_of(s), sentence_of(s)) for s, e in spans]
    mentions = person_mentions(text, masked)

    plain = _INITIALISM.sub(
        lambda m: m.group(1) + m.group(2) + "  ", _HONORIFIC_STOP.sub(lambda m: m.group(1) + " ", masked)
    )
    for item in items:
        s_start, s_end = sentences[item.sentence]
        after = plain[item.end : s_end]
        before = plain[s_start : item.start]
        inner = text[item.start + 1 : item.end - (1 if text[item.end - 1] in QUOTE_MARKS else 0)]
        spk: Speaker | None = None
        how = ""
        m = _AFTER_INVERTED.match(after)
        if m:
            spk = parse_speaker(m.group("spk"))
            if spk is not None and spk.nominal and m.group("tail"):
                named = _named_in_apposition(m.group("tail"))
                if named:
                    spk = named
            elif spk is not None and not spk.role:
                spk.role = _appositive_role(m.group("tail"))
            how = "after"
        if spk is None:
            m = _AFTER_SUBJECT.match(after)
            gap = re.match(r"^([^,.;:\"“”]*)[\"“]", after[m.end() :]) if m else None
            if gap and not re.match(r"^\s*(?:on|in|at|during|to|from|after|before|via|while|for)\b", gap.group(1)):
                m = None  # `, China's top diplomat Wang insisted this cooperation "…"`: that verb is the next quote's
            if m and not _VERB.search(m.group("spk")):
                spk = parse_speaker(m.group("spk"), whole=True)
                if spk is not None and m.group("app") and not spk.role:
                    spk.role = _appositive_role(m.group("app"))
                how = "after"
        if spk is None and not after.strip() and re.search(r"[?!.]\W*$", inner) and item.sentence + 1 < len(sentences):
            # `"So it's fair to say …?" Schiff asked.`: the quote's own stop ended the sentence
            n_start, n_end = sentences[item.sentence + 1]
            following = plain[n_start:n_end]
            m = _AFTER_SUBJECT.match(following)
            if (
                m
                and len(_tokens(following)) <= 10
                and not re.search(r"[\"“”]", following)
                and para_of(n_start) == item.para
            ):
                spk, how = parse_speaker(m.group("spk"), whole=True), "after"
        if spk is None and not re.search(r"[\"“”]", after):
            m = _FINAL_INVERTED.search(after)
            if m:
                spk = parse_speaker(m.group("spk"))
                if spk is not None and spk.nominal and m.group("tail"):
                    spk = _named_in_apposition(m.group("tail")) or spk
                elif spk is not None and not spk.role:
                    spk.role = _appositive_role(m.group("tail"))
                how = "final"
            else:
                m = _FINAL_SUBJECT.search(after)
                if m:
                    spk, how = parse_speaker(m.group("spk")), "final"
        if spk is None:
            cand, verb = _speaker_before_verb(before, before)
            if cand is not None:
                spk, how = cand, "before"
            elif _ACCORDING_OPENS.match(before):
                m = _ACCORDING_OPENS.match(before)
                phrase = m.group("spk").split(" by ")[-1]
                cand = parse_speaker(phrase)
                if cand is not None and not cand.pronoun:
                    spk, how = cand, "before"
            elif re.search(r"\baccording to\b", before):
                m = _ACCORDING.search(before)
                if m and not _is_title_case(inner):
                    spk, how = parse_speaker(m.group("spk")), "before"
        # "never used the term "three amigos"": a word; "including "Mary Poppins" and …": a title
        item.named = bool(_TERM_BEFORE.search(before)) or (_is_title_case(inner) and 2 <= _words_inside(inner) <= 6)
        item.speaker, item.how = (None, "") if item.named else (spk, how)

    # 4. quotes without their own attribution take a neighbour's
    for k, item in enumerate(items):
        if item.speaker is not None or item.named:
            continue
        closed = text[item.end - 1] in QUOTE_MARKS and item.end - 1 > item.start
        inner = text[item.start + 1 : item.end - 1 if closed else item.end]
        same = [o for o in items if o is not item and o.sentence == item.sentence and o.speaker is not None]
        if same:
            item.speaker, item.how = same[0].speaker, "same sentence"
            continue
        prev = next((o for o in reversed(items[:k]) if o.speaker is not None), None)
        sentence_start = sentences[item.sentence][0]
        opens_sentence = not masked[sentence_start : item.start].strip(" (")
        complete = bool(re.search(r"[.!?,…]\s*$|[.!?]\W*$", inner.rstrip(CLOSING + '"'))) or _words_inside(inner) >= 8
        if not opens_sentence or not complete:
            continue
        if (
            item.sentence > 0
            and _paragraph_is_quote(text, masked, item, para_starts)
            and (prev is None or prev.para < item.para - 1)
        ):
            # `Erekat said it was only the latest move …` then a paragraph that is all quote
            b_start, b_end = sentences[item.sentence - 1]
            m = _INDIRECT.match(plain[b_start:b_end])
            if m and para_of(b_start) == item.para - 1 and not re.search(r"[\"“”]", plain[b_start:b_end]):
                spk = parse_speaker(m.group("spk"), whole=True)
                if spk is not None and not spk.nominal:
                    item.speaker, item.how = spk, "after indirect speech"
                    continue
        if prev is None or prev.speaker is None:
            continue
        if prev.para == item.para and prev.sentence == item.sentence - 1:
            item.speaker, item.how = prev.speaker, "next sentence"
        elif (
            prev.para == item.para - 1
            and _paragraph_is_quote(text, masked, item, para_starts)
            and _last_sentence_quoted(masked, sentences, prev)
        ):
            item.speaker, item.how = prev.speaker, "next paragraph"

    # pronouns: the person last named or quoted before the quote
    out: list[Quote] = []
    for item in items:
        spk = item.speaker
        if spk is None:
            continue
        if spk.pronoun:
            referent = _referent(spk.name, item, items, mentions, sentences)
            if referent is None:
                item.speaker = None
                continue
            spk = referent
            item.speaker = spk
        name, role = spk.name, spk.role
        if not spk.nominal:
            full, full_role = expand_name(name, item.start, mentions)
            name, role = full, role or full_role
        inner_start = item.start + 1
        inner_end = item.end - 1 if text[item.end - 1] in QUOTE_MARKS and item.end - 1 > item.start else item.end
        quoted = text[inner_start:inner_end].strip().rstrip(",")
        if not quoted:
            continue
        out.append(Quote(text=quoted, start=item.start, end=item.end, speaker=name, role=role))
    # one role per speaker: the first the text gives ("said Chong in Singapore" is Chong Ja Ian, the professor)
    roles: dict[str, str] = {}
    for quote in out:
        if quote.role:
            roles.setdefault(quote.speaker, quote.role)
    return [Quote(q.text, q.start, q.end, q.speaker, roles.get(q.speaker)) for q in out]


def _named_in_apposition(tail: str) -> Speaker | None:
    """ ", former White House Russia adviser Fiona Hill." after a description: the name in it."""
    body = tail.strip(" ,.")
    spk = parse_speaker(body) if len(_tokens(body)) <= 8 else None
    return spk if spk is not None and not spk.nominal and not spk.pronoun else None


def _paragraph_is_quote(text: str, masked: str, item: _Span, para_starts: list[int]) -> bool:
    start = para_starts[item.para]
    return not masked[start : item.start].strip()


def _last_sentence_quoted(masked: str, sentences: list[tuple[int, int]], prev: _Span) -> bool:
    """Whether the quote before ends its paragraph's last sentence (so the next paragraph's
    quote goes on with the same speaker)."""
    line_end = masked.find("\n", prev.end)
    line_end = len(masked) if line_end < 0 else line_end
    return prev.sentence == max(k for k, (s, e) in enumerate(sentences) if s < line_end)


# ------------------------------------------------------------------ names in the text

_RUN = re.compile(
    r"(?:(?<=\s)|^|(?<=[(\"“‘—–-]))((?:[A-Z][\w'’.\-]*|[^\W\d_a-z][\w'’.\-]*)"
    r"(?:[ \t]+(?:(?:de|da|van|von|der|bin|al|del|di|of)[ \t]+)?(?:[A-Z][\w'’.\-]*|[^\W\d_a-z][\w'’.\-]*)){0,6})"
)


@dataclass(frozen=True)
class Mention:
    start: int
    name: str  # the name without its title
    role: str | None
    subject: bool  # opens its sentence (the sentence's subject, likely)
    object: bool = False  # follows a preposition ("the Center for China-US Cooperation")


def person_mentions(text: str, masked: str) -> list[Mention]:
    """Names of people outside quotes, in order: runs of capitalised words, cut from the title
    before them ("Secretary of State Antony Blinken" → "Antony Blinken", role "Secretary of
    State"), without organisations and places made of organisation words."""
    out: list[Mention] = []
    bounds = sentence_bounds(masked)
    starts = {s for s, _ in bounds}
    for m in _RUN.finditer(masked):
        run = m.group(1).split()
        offset = m.start(1)
        stop = next(
            (
                k
                for k, w in enumerate(run[:-1])
                if w.endswith(".") and w.lower() not in HONORIFICS and not re.fullmatch(r"(?:[A-Z]\.)+", w)
            ),
            None,
        )
        if stop is not None:
            run = run[: stop + 1]
        at_start = any(s == offset or masked[s:offset].strip(' "“(') == "" for s in starts)
        if at_start and len(run) > 1 and run[0].lower().endswith(("ing", "ers")):
            offset += len(run[0]) + 1
            run = run[1:]
        # drop a capitalised sentence opener that is not a name ("But China's Premier Li")
        while run and run[0].lower().strip(".,") in NOT_NAMES and not (run[0] == "He" and len(run) > 1):
            offset += len(run[0]) + 1
            run = run[1:]
        run = [w.rstrip(".,") if w.lower() not in HONORIFICS else w for w in run]
        run = [w for w in run if w]
        if not run:
            continue
        possessive_cut = next((k for k, w in enumerate(run) if w.endswith(("'s", "’s"))), None)
        role_prefix: list[str] = []
        if possessive_cut is not None and possessive_cut == len(run) - 1:
            run = run[:-1] + [re.sub(r"['’]s$", "", run[-1])]  # "Taylor Swift's first albums"
        elif possessive_cut is not None:
            role_prefix = run[: possessive_cut + 1]
            run = run[possessive_cut + 1 :]
        title, name = split_title(run)
        name = _strip_honorifics(name)
        if not name or any(w.lower() in ORG_WORDS for w in name) or name[-1].lower() in TITLE_WORDS:
            continue
        if len(name) > 4 or all(w.isupper() and len(w) > 1 for w in name):
            continue
        # lowercase title words just before the run: "climate envoy John Kerry", "top diplomat Wang Yi"
        before = masked[max(0, m.start(1) - 60) : m.start(1)]
        lead = _tokens(re.split(r"[,;:.()\"“”]", before)[-1])
        role = " ".join(lead_role(lead) + role_prefix + title) or None
        sent_start = max((s for s in starts if s <= offset), default=0)
        opener = _tokens(masked[sent_start:offset])
        subject = (
            "," not in masked[sent_start:offset]
            and len(opener) <= 6
            and all(
                _is_cap(w) or w.endswith(("'s", "’s")) or "-" in w or w.lower().strip(".") in OPENER_WORDS
                for w in opener
            )
        )
        object_ = bool(
            re.search(
                r"\b(?:of|for|at|in|on|to|from|with|by|about|against|the)\s+$",
                masked[max(0, offset - 12) : offset],
                re.I,
            )
        )
        out.append(Mention(offset, " ".join(name), role, subject, object_))
    # a single capitalised word is a name only when the text gives it in full somewhere
    # ("Shotwell" after "Gwynne Shotwell"; "Wang" after "Wang Yi", a surname first), not a
    # sentence's opening word ("Such missions …", "Border agents …")
    ends = {
        w
        for m in out
        if " " in m.name
        for w in m.name.split()[-1:] + [f for f in m.name.split()[:1] if f in CHINESE_SURNAMES]
    }
    return [m for m in out if " " in m.name or m.name in ends]


def expand_name(name: str, at: int, mentions: list[Mention]) -> tuple[str, str | None]:
    """The fullest form of a name the text gives, preferring mentions before `at`: "Shen" →
    "Shen Dingli", "Li" (after "Premier Li Qiang") → "Li Qiang". Also the role of that person."""
    tokens = name.split()
    if not tokens:
        return name, None

    def fits(m: Mention) -> bool:
        other = m.name.split()
        return len(other) > len(tokens) and (
            other[-len(tokens) :] == tokens or (other[: len(tokens)] == tokens and tokens[0] in CHINESE_SURNAMES)
        )

    earlier = [m for m in mentions if m.start < at and fits(m)]
    later = [m for m in mentions if m.start >= at and fits(m)]
    chosen = earlier[-1] if earlier else (later[0] if later else None)
    full = chosen.name if chosen else name
    roles = [m.role for m in mentions if m.name == full and m.role]
    return full, (roles[0] if roles else None)


def _referent(
    pronoun: str, item: _Span, items: list[_Span], mentions: list[Mention], sentences: list[tuple[int, int]]
) -> Speaker | None:
    """Who "he", "she", "they" or "it" is: the person named as a sentence's subject since the
    quote before, in this sentence or the one before, else the previous quote's speaker."""
    prev = next(
        (o for o in reversed(items[: items.index(item)]) if o.speaker is not None and not o.speaker.pronoun), None
    )
    since = prev.end if prev else 0
    floor = sentences[max(0, item.sentence - 2)][0]
    window = [m for m in mentions if max(since, floor) <= m.start < item.start]
    named = [m for m in window if m.subject]
    if named:
        return Speaker(named[-1].name, role=named[-1].role)
    if pronoun in ("he", "she"):
        # a person named in the sentence before (not in this one: there, a name before the quote
        # that is not its subject is the verb's object or part of a list)
        last_sentence = sentences[max(0, item.sentence - 1)][0]
        this_sentence = sentences[item.sentence][0]
        people = [
            m for m in window if " " in m.name and not m.object and max(since, last_sentence) <= m.start < this_sentence
        ]
        if people:
            return Speaker(people[-1].name, role=people[-1].role)
        if prev is None:
            earlier = [m for m in mentions if m.start < item.start and m.subject and " " in m.name]
            if earlier:  # the article's subject, named before its first quote
                return Speaker(earlier[-1].name, role=earlier[-1].role)
    if prev is not None and prev.speaker is not None:
        if pronoun in ("he", "she") and prev.speaker.nominal and not _personal(prev.speaker.name):
            return None
        if pronoun in ("they", "it", "we") and not prev.speaker.nominal:
            return None  # "they said" after Taylor Swift spoke is someone else
        return prev.speaker
    return None


def _personal(description: str) -> bool:
    """Whether a description names a person ("the spokesperson") rather than a body ("the letter")."""
    last = description.split()[-1].lower()
    return last in TITLE_WORDS or last in {
        "spokesperson",
        "spokesman",
        "spokeswoman",
        "patient",
        "witness",
        "woman",
        "man",
        "doctor",
        "source",
    }
