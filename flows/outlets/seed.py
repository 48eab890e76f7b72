"""Write `config/outlets.yaml` afresh: the hand-kept outlets below plus every state-affiliated
outlet of the State Media Monitor matrix (../shared/data/state-media-profiles, MIT).

A maintainer's tool, not part of a run (it overwrites the file, users' edits included):

    .venv/bin/python -m flows.outlets.seed [--csv PATH] [--output config/outlets.yaml]

Each matrix row with a URL becomes an outlet keyed by country and registered domain (all of
CGTN's language sites are one outlet, cgtn.com); platforms (Facebook, YouTube, …) are skipped;
a hand-kept outlet's domain wins over the matrix's. Country names become ISO 3166 codes through
babel's English territory names (babel comes with courlan; only this tool uses it).
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from flows.config import PROJECT_ROOT

CSV_DEFAULT = PROJECT_ROOT.parent / "shared" / "data" / "state-media-profiles" / "State_Media_Matrix.csv"

# The State Media Monitor typology, mapped onto the catalogue's kinds.
TYPOLOGY = {
    "SC": "state",  # state-controlled media
    "CaPr": "state",  # captured private: privately owned, editorially controlled by the state
    "CaPu": "public",  # captured public: a public broadcaster under government control
    "ISFM": "public",  # independent state-funded and state-managed
    "ISFM?": "public",
    "ISF": "public",  # independent state-funded
    "ISM": "public",  # independent state-managed
    "IP": "public",  # independent public (BBC, NPR, PBS)
}
COUNTRY_FIXES = {
    "United States of America": "US",
    "Europen Union": "EU",
    "Palestine territories": "PS",
    "DR Congo": "CD",
    "Congo": "CG",
    "The Gambia": "GM",
    "UAE": "AE",
    "Czechia": "CZ",
    "Macao": "MO",
    "Hong Kong": "HK",
    "Vatican City": "VA",
    "Côte d'Ivoire": "CI",
    "North Korea": "KP",
    "South Korea": "KR",
    "Laos": "LA",
    "Russia": "RU",
    "Syria": "SY",
    "Iran": "IR",
    "Vietnam": "VN",
    "Bolivia": "BO",
    "Venezuela": "VE",
    "Moldova": "MD",
    "Tanzania": "TZ",
    "Brunei": "BN",
    "Turkey": "TR",
    "North Macedonia": "MK",
    "Bosnia and Herzegovina": "BA",
    "Taiwan": "TW",
    "Myanmar": "MM",
}
PLATFORMS = {
    "facebook.com",
    "youtube.com",
    "twitter.com",
    "x.com",
    "instagram.com",
    "t.me",
    "vk.com",
    "blogspot.com",
    "wordpress.com",
    "google.com",
    "tiktok.com",
    "ok.ru",
    "rutube.ru",
    "linkedin.com",
    "soundcloud.com",
    "apple.com",
    "spotify.com",
}
PREFIX = re.compile(r"^(?:Print|Television|TV|Online|Radio|News agency|Website|Newspaper)\s*:\s*", re.I)

# Outlets that cover US–China news, kept by hand: name, domains, country, kind.
HAND_KEPT: list[tuple[str, list[str], str, str]] = [
    # United States: press
    ("The New York Times", ["nytimes.com"], "US", "independent"),
    ("The Washington Post", ["washingtonpost.com"], "US", "independent"),
    ("The Wall Street Journal", ["wsj.com"], "US", "independent"),
    ("CNN", ["cnn.com"], "US", "independent"),
    ("NBC News", ["nbcnews.com"], "US", "independent"),
    ("CBS News", ["cbsnews.com"], "US", "independent"),
    ("ABC News", ["abcnews.go.com"], "US", "independent"),
    ("Fox News", ["foxnews.com"], "US", "independent"),
    ("CNBC", ["cnbc.com"], "US", "independent"),
    ("Bloomberg", ["bloomberg.com"], "US", "independent"),
    ("Politico", ["politico.com"], "US", "independent"),
    ("Axios", ["axios.com"], "US", "independent"),
    ("The Hill", ["thehill.com"], "US", "independent"),
    ("USA Today", ["usatoday.com"], "US", "independent"),
    ("Los Angeles Times", ["latimes.com"], "US", "independent"),
    ("The Atlantic", ["theatlantic.com"], "US", "independent"),
    ("Foreign Policy", ["foreignpolicy.com"], "US", "independent"),
    ("Foreign Affairs", ["foreignaffairs.com"], "US", "independent"),
    ("The Diplomat", ["thediplomat.com"], "US", "independent"),
    ("Semafor", ["semafor.com"], "US", "independent"),
    ("NPR", ["npr.org"], "US", "public"),
    ("PBS", ["pbs.org"], "US", "public"),
    ("Voice of America", ["voanews.com"], "US", "public"),
    ("Radio Free Asia", ["rfa.org"], "US", "public"),
    # wires
    ("Reuters", ["reuters.com"], "GB", "wire"),
    ("Associated Press", ["apnews.com", "ap.org"], "US", "wire"),
    ("Agence France-Presse", ["afp.com"], "FR", "wire"),
    ("Kyodo News", ["kyodonews.net", "kyodonews.jp"], "JP", "wire"),
    ("Yonhap", ["yna.co.kr", "en.yna.co.kr"], "KR", "wire"),
    # United States: the government's own sites
    ("US Department of State", ["state.gov"], "US", "official"),
    ("The White House", ["whitehouse.gov"], "US", "official"),
    ("Office of the US Trade Representative", ["ustr.gov"], "US", "official"),
    ("US Department of Commerce", ["commerce.gov"], "US", "official"),
    ("Bureau of Industry and Security", ["bis.doc.gov", "bis.gov"], "US", "official"),
    ("Federal Register", ["federalregister.gov"], "US", "official"),
    ("US Department of the Treasury", ["treasury.gov", "home.treasury.gov"], "US", "official"),
    ("US Department of Defense", ["defense.gov", "war.gov"], "US", "official"),
    ("US Congress", ["congress.gov", "house.gov", "senate.gov"], "US", "official"),
    ("US-China Economic and Security Review Commission", ["uscc.gov"], "US", "official"),
    ("US Embassy in China", ["china.usembassy-china.org.cn"], "US", "official"),
    # China: the government's own sites
    ("Ministry of Foreign Affairs of the PRC", ["fmprc.gov.cn", "mfa.gov.cn"], "CN", "official"),
    ("Ministry of Commerce of the PRC", ["mofcom.gov.cn", "english.mofcom.gov.cn"], "CN", "official"),
    ("State Council of the PRC", ["gov.cn", "english.www.gov.cn"], "CN", "official"),
    ("Ministry of National Defense of the PRC", ["mod.gov.cn", "eng.mod.gov.cn"], "CN", "official"),
    ("State Council Information Office", ["scio.gov.cn"], "CN", "official"),
    ("Taiwan Affairs Office of the State Council", ["gwytb.gov.cn", "taiwan.cn"], "CN", "official"),
    ("Chinese Embassy in the US", ["us.china-embassy.gov.cn", "china-embassy.org"], "CN", "official"),
    # China: press (state media come from the matrix; these are kept so their names read well)
    ("Xinhua", ["xinhuanet.com", "news.cn", "english.news.cn"], "CN", "state"),
    ("Global Times", ["globaltimes.cn"], "CN", "state"),
    ("CGTN", ["cgtn.com"], "CN", "state"),
    ("China Daily", ["chinadaily.com.cn", "chinadailyhk.com"], "CN", "state"),
    ("People's Daily", ["people.com.cn", "people.cn", "en.people.cn"], "CN", "state"),
    ("Caixin Global", ["caixinglobal.com", "caixin.com"], "CN", "independent"),
    ("Sixth Tone", ["sixthtone.com"], "CN", "state"),
    # Hong Kong, Taiwan
    ("South China Morning Post", ["scmp.com"], "HK", "independent"),
    ("Hong Kong Free Press", ["hongkongfp.com"], "HK", "independent"),
    ("The Standard (Hong Kong)", ["thestandard.com.hk"], "HK", "independent"),
    ("Taipei Times", ["taipeitimes.com"], "TW", "independent"),
    ("Taiwan News", ["taiwannews.com.tw"], "TW", "independent"),
    ("Focus Taiwan (CNA)", ["focustaiwan.tw", "cna.com.tw"], "TW", "public"),
    ("Ministry of Foreign Affairs of Taiwan", ["mofa.gov.tw"], "TW", "official"),
    ("Office of the President of Taiwan", ["president.gov.tw"], "TW", "official"),
    # Japan, Korea, Singapore
    ("The Japan Times", ["japantimes.co.jp"], "JP", "independent"),
    ("Nikkei Asia", ["asia.nikkei.com", "nikkei.com"], "JP", "independent"),
    ("The Asahi Shimbun", ["asahi.com"], "JP", "independent"),
    ("The Mainichi", ["mainichi.jp"], "JP", "independent"),
    ("NHK World", ["nhk.or.jp"], "JP", "public"),
    ("The Korea Herald", ["koreaherald.com"], "KR", "independent"),
    ("The Straits Times", ["straitstimes.com"], "SG", "independent"),
    # Europe and elsewhere
    ("BBC News", ["bbc.co.uk", "bbc.com", "feeds.bbci.co.uk", "bbci.co.uk"], "GB", "public"),
    ("The Guardian", ["theguardian.com"], "GB", "independent"),
    ("Financial Times", ["ft.com"], "GB", "independent"),
    ("The Economist", ["economist.com"], "GB", "independent"),
    ("Deutsche Welle", ["dw.com"], "DE", "public"),
    ("France 24", ["france24.com"], "FR", "public"),
    ("Le Monde", ["lemonde.fr"], "FR", "independent"),
    ("Der Spiegel", ["spiegel.de"], "DE", "independent"),
    ("Politico Europe", ["politico.eu"], "BE", "independent"),
    ("Euronews", ["euronews.com"], "FR", "independent"),
    ("Al Jazeera", ["aljazeera.com", "aljazeera.net"], "QA", "state"),
    ("ABC (Australia)", ["abc.net.au"], "AU", "public"),
    # think tanks
    ("Center for Strategic and International Studies", ["csis.org"], "US", "think_tank"),
    ("Brookings Institution", ["brookings.edu"], "US", "think_tank"),
    ("Council on Foreign Relations", ["cfr.org"], "US", "think_tank"),
    ("Carnegie Endowment for International Peace", ["carnegieendowment.org"], "US", "think_tank"),
    ("RAND Corporation", ["rand.org"], "US", "think_tank"),
    ("Stimson Center", ["stimson.org"], "US", "think_tank"),
    ("Peterson Institute for International Economics", ["piie.com"], "US", "think_tank"),
    ("The Heritage Foundation", ["heritage.org"], "US", "think_tank"),
    ("MERICS", ["merics.org"], "DE", "think_tank"),
    ("Chatham House", ["chathamhouse.org"], "GB", "think_tank"),
    ("Australian Strategic Policy Institute", ["aspi.org.au", "aspistrategist.org.au"], "AU", "think_tank"),
    ("Lowy Institute", ["lowyinstitute.org"], "AU", "think_tank"),
    ("China Institute of International Studies", ["ciis.org.cn"], "CN", "think_tank"),
    ("China Institutes of Contemporary International Relations", ["cicir.ac.cn"], "CN", "think_tank"),
]

HEADER = """\
# Outlets: who publishes what, so every story knows who covered it (docs/sides.md).
#
# Each outlet: its domains (a domain covers its subdomains: news.cn covers english.news.cn),
# its country (ISO 3166 code; `countries` below gives the names shown) and its kind:
#   state       state-controlled or state-captured media
#   public      a public broadcaster or state-funded outlet with editorial independence
#   independent privately owned press
#   wire        news agencies
#   official    a government's own site (ministries, the White House, the Federal Register)
#   think_tank  research institutes
# Edit freely: add an outlet, fix a kind. A feed in pipeline.yaml may also set `country` and
# `kind` itself, which win over this file. Sides: US outlets and officials are "us", PRC ones
# "china" (Hong Kong, Macao and Taiwan count under their own codes), everyone else "other".
#
# The first part is kept by hand (main US, Chinese, Hong Kong, Taiwanese, Japanese, European,
# wire, official and think-tank outlets covering US–China news). The rest is seeded from the
# State Media Monitor matrix, State_Media_Matrix.csv of ASD-at-GMF/state-media-profiles
# (MIT License, Copyright (c) 2023 ASD-at-GMF), with its typology mapped to kinds as follows:
#   SC (state-controlled) -> state       CaPr (captured private) -> state
#   CaPu (captured public) -> public     ISM / ISF / ISFM (independent state-managed/-funded) -> public
#   IP (independent public) -> public
# Regenerate (overwrites edits): .venv/bin/python -m flows.outlets.seed
"""


def _country_codes() -> dict[str, str]:
    from babel import Locale

    names = {name: code for code, name in Locale("en").territories.items() if code.isalpha()}
    names.update(COUNTRY_FIXES)
    return names


def _host(url: str) -> str | None:
    host = (urlsplit(url.strip() if "://" in url else "http://" + url.strip()).hostname or "").lower()
    return host.removeprefix("www.") or None


def _registered(host: str) -> str:
    import tld

    return tld.get_fld(host, fix_protocol=True, fail_silently=True) or host


def matrix_outlets(path: Path) -> list[dict]:
    """One outlet per (country, registered domain) of the matrix, named after its main site."""
    codes = _country_codes()
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in csv.DictReader(path.open(encoding="utf-8-sig")):
        url, typology, country = (
            (row.get("URL") or "").strip(),
            (row.get("Typology") or "").strip(),
            (row.get("Country") or "").strip(),
        )
        host = _host(url) if url else None
        if not host or typology not in TYPOLOGY or not country:
            continue
        domain = _registered(host)
        if domain in PLATFORMS:
            continue
        groups[(codes.get(country, country), domain)].append({**row, "host": host})
    out = []
    for (code, domain), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        main = sorted(rows, key=lambda r: (r["host"] != domain, len(r["Main assets"] or r["Media company"])))[0]
        name = PREFIX.sub("", (main["Main assets"] or main["Media company"]).strip()) or domain
        kind = TYPOLOGY[Counter(r["Typology"].strip() for r in rows).most_common(1)[0][0]]
        out.append({"name": name, "domains": [domain], "country": code, "kind": kind})
    return out


def build(csv_path: Path) -> dict:
    hand = [{"name": n, "domains": d, "country": c, "kind": k} for n, d, c, k in HAND_KEPT]
    taken = {d for o in hand for d in o["domains"]}
    seeded = [o for o in matrix_outlets(csv_path) if not set(o["domains"]) & taken]
    names = {code: name for name, code in _country_codes().items()}
    from babel import Locale

    territories = Locale("en").territories
    used = sorted({o["country"] for o in hand + seeded})
    countries = {
        c: {"HK": "Hong Kong", "MO": "Macao", "US": "United States", "EU": "European Union", "PS": "Palestine"}.get(c)
        or territories.get(c)
        or names.get(c, c)
        for c in used
    }
    return {"countries": countries, "outlets": hand + seeded, "_counts": (len(hand), len(seeded))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=CSV_DEFAULT)
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "config" / "outlets.yaml")
    args = parser.parse_args()
    data = build(args.csv)
    n_hand, n_seeded = data.pop("_counts")
    lines = [HEADER, "countries:"]
    lines += [
        f'  "{code}": {yaml.safe_dump(name, allow_unicode=True).strip().removesuffix("...").strip()}'
        for code, name in data["countries"].items()
    ]
    lines.append("\noutlets:")
    lines.append(f"  # ---- kept by hand ({n_hand})")
    for n, outlet in enumerate(data["outlets"]):
        if n == n_hand:
            lines.append(f"  # ---- seeded from the State Media Monitor matrix ({n_seeded})")
        flow = yaml.safe_dump(outlet, allow_unicode=True, default_flow_style=True, sort_keys=False, width=200)
        lines.append(f"  - {flow.strip()}")
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.output}: {n_hand} outlets kept by hand, {n_seeded} from the matrix")


if __name__ == "__main__":
    main()
