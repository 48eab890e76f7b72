"""Speakers and actors: one name per person within a story, and who they are.

`config/actors.yaml` lists officials of both governments (with roles and aliases), their
ministries, and companies on the Entity List. Within a story, a speaker given by surname in one
item ("Blinken") is the full name another gives ("Antony Blinken"); a description ("the
secretary of state") is the person the story's own text gave that title to ("US Secretary of
State Antony Blinken"); and any name or alias of a listed actor becomes the actor's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ActorEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    side: Literal["us", "china", "other"]
    type: Literal["official", "ministry", "company", "organisation"] = "official"
    role: str | None = None
    aliases: list[str] = Field(default_factory=list)


class ActorsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actors: list[ActorEntry] = Field(default_factory=list)


@dataclass
class Actors:
    entries: list[ActorEntry]

    def __post_init__(self) -> None:
        self._by_name: dict[str, ActorEntry] = {}
        for actor in self.entries:
            for name in [actor.name, *actor.aliases]:
                self._by_name.setdefault(_key(name), actor)
        names = sorted({n for a in self.entries for n in [a.name, *a.aliases] if n}, key=len, reverse=True)
        self._pattern = (
            re.compile(r"(?<![\w-])(" + "|".join(re.escape(n) for n in names) + r")(?![\w-])") if names else None
        )

    def find(self, name: str | None) -> ActorEntry | None:
        """The actor a speaker's name (or alias) is, ignoring case and a leading title."""
        if not name:
            return None
        key = _key(name)
        if key in self._by_name:
            return self._by_name[key]
        words = key.split()
        # "President Xi", "Secretary Blinken": a title before a listed name
        for k in range(1, len(words)):
            hit = self._by_name.get(" ".join(words[k:]))
            if hit is not None:
                return hit
        return None

    def mentioned(self, text: str) -> dict[str, int]:
        """Listed actors named in a text: actor name -> mentions (aliases included)."""
        out: dict[str, int] = {}
        if self._pattern is None or not text:
            return out
        for m in self._pattern.finditer(text):
            actor = self._by_name.get(_key(m.group(1)))
            if actor is not None:
                out[actor.name] = out.get(actor.name, 0) + 1
        return out


def _key(name: str) -> str:
    return " ".join(name.replace("’", "'").lower().split())


def load_actors(path: str | Path) -> Actors:
    from flows.config import ConfigError, _format_validation_error, _read_yaml

    path = Path(path)
    try:
        parsed = ActorsFile.model_validate(_read_yaml(path))
    except ValidationError as e:
        raise ConfigError(_format_validation_error(path, e)) from None
    return Actors(parsed.actors)


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> Actors:
    return load_actors(path)


def actors_for(settings) -> Actors:
    path = Path(settings.actors_file)
    return _cached(str(path), path.stat().st_mtime if path.exists() else 0.0)


def actors_version(settings) -> str:
    """A short digest of the actors file, so editing it re-reads items' actors."""
    import hashlib

    path = Path(settings.actors_file)
    data = path.read_bytes() if path.exists() else b""
    return hashlib.sha256(data).hexdigest()[:8]


# ------------------------------------------------------------------ within a story


def _words(name: str) -> list[str]:
    return [w for w in re.findall(r"[\w'’.-]+", name) if w.lower() not in ("the", "a", "an")]


def normalise_speakers(quotes: Iterable[dict], actors: Actors | None = None) -> dict[str, str]:
    """speaker as given -> one name per person for a story's quotes ({"speaker", "role"} dicts).

    A surname joins the full name that has it first or last ("Blinken" → "Antony Blinken",
    "Wang" → "Wang Yi"); a description joins the named speaker whose role it ends
    ("the secretary of state" → the speaker with role "US Secretary of State"); a listed
    actor's alias becomes the actor's name."""
    quotes = list(quotes)
    speakers = list(dict.fromkeys(q["speaker"] for q in quotes if q.get("speaker")))
    roles: dict[str, str] = {}
    for q in quotes:
        if q.get("role") and q.get("speaker"):
            roles.setdefault(q["speaker"], q["role"])
    full = [s for s in speakers if len(_words(s)) >= 2 and s[:1].isupper()]
    out: dict[str, str] = {}
    for name in speakers:
        target = name
        words = _words(name)
        if name[:1].islower() or name.lower().startswith(("the ", "a ", "an ")):
            tail = " ".join(words).lower()
            owners = [s for s, r in roles.items() if s in full and tail and r.lower().endswith(tail)]
            if len(set(owners)) == 1:
                target = owners[0]
        elif len(words) == 1:
            owners = [s for s in full if _words(s)[-1] == words[0] or _words(s)[0] == words[0]]
            if len(set(owners)) == 1:
                target = owners[0]
        if actors is not None:
            actor = actors.find(target)
            if actor is not None:
                target = actor.name
        out[name] = target
    return out


def story_speakers(store, story_ids, actors: Actors | None = None) -> dict[str, dict[str, str]]:
    """story id -> {speaker as given: merged name} over all the story's quotes."""
    from flows.store.quotes import quotes_by_story

    return {sid: normalise_speakers(quotes, actors) for sid, quotes in quotes_by_story(store, story_ids).items()}
