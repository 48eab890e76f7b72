"""Sources know who they are: the outlet catalogue (`config/outlets.yaml`) and an item's outlet,
country, kind and side.

An item is identified by its own URL's host (a catalogue domain covers its subdomains, the
longest match wins: `english.news.cn` is Xinhua's `news.cn`), else its feed's host. A feed entry
of pipeline.yaml may set `country` and `kind` itself, which win. Sides: `us` for US outlets and
officials, `china` for the PRC's, `other` for every other country (Hong Kong, Macao and Taiwan
have their own codes), `unknown` when nothing says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Kind = Literal["state", "public", "independent", "wire", "official", "think_tank"]
KIND_WORDS = {
    "state": "state media",
    "public": "public media",
    "independent": "press",
    "wire": "wires",
    "official": "officials",
    "think_tank": "think tanks",
}


class OutletEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    domains: list[str] = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    kind: Kind

    @field_validator("domains")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        out = []
        for domain in value:
            domain = domain.strip().lower().removeprefix("www.")
            if not domain or "/" in domain or " " in domain:
                raise ValueError(f"{domain!r} is not a domain like news.cn")
            out.append(domain)
        return out


class CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    countries: dict[str, str] = Field(default_factory=dict)
    outlets: list[OutletEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class Source:
    """Who published an item: outlet name, country code, kind; any may be unknown (None)."""

    outlet: str | None
    country: str | None
    kind: str | None

    @property
    def side(self) -> str:
        return side_of(self.country)

    def to_dict(self) -> dict:
        return {"outlet": self.outlet, "country": self.country, "kind": self.kind, "side": self.side}


def side_of(country: str | None) -> str:
    """us, china, other, or unknown for an ISO country code."""
    if not country:
        return "unknown"
    return {"US": "us", "CN": "china"}.get(country.upper(), "other")


def host_of(url: str | None) -> str | None:
    if not url or "://" not in url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower().removeprefix("www.") if host else None


@dataclass
class Catalogue:
    outlets: list[OutletEntry]
    countries: dict[str, str]
    by_domain: dict[str, OutletEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for outlet in self.outlets:
            for domain in outlet.domains:
                self.by_domain.setdefault(domain, outlet)  # the first listed wins

    def lookup(self, url: str | None) -> OutletEntry | None:
        """The outlet of a URL (or bare host): the longest catalogue domain its host ends with."""
        host = host_of(url) if url and "://" in url else (url or "").lower().removeprefix("www.") or None
        if not host:
            return None
        labels = host.split(".")
        for k in range(len(labels) - 1):
            outlet = self.by_domain.get(".".join(labels[k:]))
            if outlet is not None:
                return outlet
        return None

    def country_name(self, code: str | None) -> str:
        if not code:
            return "unknown"
        return self.countries.get(code, code)

    def identify(
        self,
        url: str | None,
        feed_url: str | None = None,
        country: str | None = None,
        kind: str | None = None,
        fallback_name: str | None = None,
    ) -> Source:
        """An item's source from its URL, else its feed's URL; `country`/`kind` (a feed's own
        settings) win over the catalogue's."""
        outlet = self.lookup(url) or self.lookup(feed_url)
        return Source(
            outlet.name if outlet else fallback_name,
            (country or (outlet.country if outlet else None)),
            (kind or (outlet.kind if outlet else None)),
        )


def load_catalogue(path: str | Path) -> Catalogue:
    """Read and check an outlets file; ConfigError (file, field, what was expected) when bad."""
    from flows.config import ConfigError, _format_validation_error, _read_yaml

    path = Path(path)
    data = _read_yaml(path)
    try:
        parsed = CatalogueFile.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(path, e)) from None
    return Catalogue(parsed.outlets, parsed.countries)


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> Catalogue:
    return load_catalogue(path)


def catalogue_for(settings) -> Catalogue:
    """The settings' catalogue, read once per file version."""
    path = Path(settings.outlets_file)
    return _cached(str(path), path.stat().st_mtime if path.exists() else 0.0)


def feed_overrides(settings) -> dict[str, tuple[str | None, str | None]]:
    """feed URL -> (country, kind) as the feed's own entry in pipeline.yaml sets them."""
    from flows.sources.feedlist import all_feeds

    return {f.url: (f.country, f.kind) for f in all_feeds(settings) if f.country or f.kind}


def source_of(item, catalogue: Catalogue, overrides: dict[str, tuple[str | None, str | None]]) -> Source:
    """The source of a stored item (its url, feed_url and source name)."""
    country, kind = overrides.get(item.feed_url or "", (None, None))
    return catalogue.identify(item.url, item.feed_url, country, kind, fallback_name=item.source)
