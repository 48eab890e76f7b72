"""Configuration: pydantic models of `config/pipeline.yaml` and `config/issues.yaml`.

Precedence, lowest first: built-in defaults, the YAML file, environment variables
(`USCHINA_DIGEST_<FIELD>`, nested with `__`, e.g. `USCHINA_DIGEST_FETCH__ALLOW_PRIVATE_ADDRESSES`,
a list or mapping as JSON, plus the SMTP shortcuts `USCHINA_DIGEST_SMTP_HOST/_PORT/_SECURITY/
_USERNAME/_PASSWORD`, which win over `USCHINA_DIGEST_EMAIL__…`), read by pydantic-settings.
Relative paths resolve against the folder of the config file, so a config can be moved with its
data. Any problem raises `ConfigError` with the file, the field and what was expected.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, SettingsError

ENV_PREFIX = "USCHINA_DIGEST_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "pipeline.yaml"


class ConfigError(Exception):
    """A configuration problem, already phrased for the user (file, field, expectation)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FeedSource(_Model):
    url: str = Field(description="Feed URL (RSS, Atom, RDF or JSON Feed), or a page that links one.")
    name: str | None = Field(default=None, description="Display name; defaults to the feed's title.")
    enabled: bool = True
    type: Literal["feed", "page"] = Field(
        default="feed", description="feed, or page: a list page (no feed) whose article links are followed."
    )
    links: str | None = Field(
        default=None, description="For a page: a regular expression the article links' URLs match."
    )
    country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="ISO country code; wins over config/outlets.yaml."
    )
    kind: Literal["state", "public", "independent", "wire", "official", "think_tank"] | None = Field(
        default=None, description="The source's kind; wins over config/outlets.yaml."
    )

    @field_validator("links")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(f"not a regular expression: {e}")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @property
    def label(self) -> str:
        return self.name or self.url


class FetchSettings(_Model):
    allow_private_addresses: bool = Field(
        default=False, description="Fetch URLs resolving to private/loopback addresses (tests only)."
    )
    max_connections: int = Field(default=16, ge=1, le=256)
    max_per_host: int = Field(default=2, ge=1, le=32)
    connect_timeout: float = Field(default=10.0, gt=0, le=120)
    read_timeout: float = Field(default=20.0, gt=0, le=300)
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    user_agent: str = "uschina-digest/0.1 (+https://github.com/uschina-digest; feed reader)"
    full_text: bool = Field(default=True, description="Fetch each new entry's page for its full text.")
    respect_robots: bool = True
    max_items_per_feed: int = Field(default=200, ge=1)


class DigestSettings(_Model):
    period: Literal["daily", "weekly"] = "daily"
    top_stories: int = Field(default=5, ge=0, le=50)
    trend_periods: int = Field(default=8, ge=2, le=52)
    max_items_per_issue: int = Field(default=25, ge=1)
    archive_url: str | None = Field(
        default=None, description="Public base URL of the digests folder, for links in emails."
    )


class Recipient(_Model):
    address: str
    name: str | None = None
    issues: Literal["all"] | list[str] = "all"

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if "@" not in value or value.strip() != value or " " in value:
            raise ValueError("must be an email address like name@example.org")
        return value


class EmailSettings(_Model):
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "starttls"
    username: str | None = None
    password: SecretStr | None = Field(
        default=None, description="Only from the environment or a Prefect Secret block, never a file."
    )
    password_block: str | None = Field(
        default=None, description="Name of a Prefect Secret block holding the SMTP password."
    )
    from_address: str = Field(default="digest@localhost", validation_alias=AliasChoices("from", "from_address"))
    recipients: list[Recipient] = Field(default_factory=list)
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=3, ge=1, le=10, description="SMTP tries per message in one run.")
    retry_backoff: float = Field(default=2.0, ge=0, le=300, description="Seconds before the 2nd try, doubled after.")
    ca_file: Path | None = Field(default=None, description="CA bundle to trust for TLS (a private relay).")
    unsubscribe_url: str | None = Field(
        default=None, description="Unsubscribe link; `{address}` is replaced by the recipient's address."
    )
    allow_plaintext_auth: bool = Field(
        default=False,
        description="Log in with `security: none` (the password crosses the network in "
        "clear text): only for a relay on this machine or a trusted network.",
    )

    @model_validator(mode="after")
    def _no_clear_text_password(self) -> "EmailSettings":
        if self.security == "none" and self.username and not self.allow_plaintext_auth:
            raise ValueError(
                "security is none and a username is set, so the password would cross the "
                "network in clear text: use security starttls or ssl, or set "
                "allow_plaintext_auth: true for a local relay"
            )
        return self


class ScheduleSettings(_Model):
    timezone: str = "America/New_York"
    ingest_interval_minutes: int = Field(default=30, ge=1, le=24 * 60)
    daily_cron: str = "0 7 * * *"
    weekly_cron: str = "0 7 * * 1"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (expected an IANA name like America/New_York)")
        return value


class Settings(_Model):
    """The whole pipeline configuration, with every path absolute."""

    data_dir: Path = Path("../data")
    digests_dir: Path = Path("../digests")
    seeds_dir: Path | None = Path("../seeds")
    issues_file: Path = Path("issues.yaml")
    outlets_file: Path = Field(default=Path("outlets.yaml"), description="The outlet catalogue (docs/sides.md).")
    actors_file: Path = Field(default=Path("actors.yaml"), description="Officials, ministries, companies.")
    store_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite file in data_dir.")
    feeds: list[FeedSource] = Field(default_factory=list)
    feeds_opml: Path | None = None
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    config_path: Path | None = Field(default=None, exclude=True)

    @field_validator("seeds_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @field_validator("feeds")
    @classmethod
    def _check_feeds_unique(cls, feeds: list[FeedSource]) -> list[FeedSource]:
        seen: set[str] = set()
        for feed in feeds:
            if feed.url in seen:
                raise ValueError(f"feed {feed.url} is listed twice")
            seen.add(feed.url)
        return feeds

    @property
    def database_url(self) -> str:
        return self.store_url or f"sqlite:///{self.data_dir / 'uschina-digest.sqlite3'}"


# ---------------------------------------------------------------- taxonomy (issues.yaml)


class Term(_Model):
    """A cue for an issue: a word or phrase (case-insensitive, word-bounded) and its weight."""

    term: str
    weight: float = Field(default=1.0, ge=-10, le=10)


class Issue(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    description: str = ""
    terms: list[Term] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list, description="Phrases that veto a term's sense where they occur.")
    negative_context: list[str] = Field(
        default_factory=list,
        description="Phrases that, anywhere in a sentence, veto the issue's terms in that whole sentence "
        "(a Navy officer in a spying case is the case's actor, not a military matter).",
    )
    examples: list[str] = Field(default_factory=list)
    threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Overrides the threshold the trained model learned for this issue.",
    )

    @field_validator("terms", mode="before")
    @classmethod
    def _terms(cls, value: Any) -> Any:
        # Accept the compact YAML form `{term: weight}` or ["term", ...] as well as full objects.
        if isinstance(value, dict):
            return [{"term": k, "weight": v} for k, v in value.items()]
        if isinstance(value, list):
            return [{"term": v} if isinstance(v, str) else v for v in value]
        return value


class Relevance(_Model):
    """Cues for the relevance rule: does the text bear on US–China relations?"""

    us_terms: list[str] = Field(default_factory=list)
    china_terms: list[str] = Field(default_factory=list)
    shared_stakes: list[str] = Field(
        default_factory=list, description="Places/matters where both are stakeholders (Taiwan, …)."
    )
    threshold: float | None = Field(default=None, ge=0, le=1, description="Overrides the learned relevance threshold.")


class Taxonomy(_Model):
    version: str = "1"
    relevance: Relevance = Field(default_factory=Relevance)
    issues: list[Issue]

    @model_validator(mode="after")
    def _unique_ids(self) -> "Taxonomy":
        ids = [i.id for i in self.issues]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate issue ids: {sorted(dupes)}")
        return self

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.issues]

    def get(self, issue_id: str) -> Issue:
        for issue in self.issues:
            if issue.id == issue_id:
                return issue
        raise KeyError(issue_id)


# ---------------------------------------------------------------- loading


# pydantic names the member of a union a value failed (`literal['all']`, `list[str]`, `int`) in the
# error's location; that is no field of the file.
_UNION_MEMBER = re.compile(r"^(?:[a-z-]+\[.*\]|str|int|float|bool|none|list|dict)$")


def _format_validation_error(path: Path | str, err: ValidationError) -> str:
    """One line per bad field: `file: dotted.field: what was expected (got value)`."""
    by_field: dict[str, tuple[list[str], str]] = {}
    for e in err.errors():
        loc = [str(p) for p in e["loc"] if not (isinstance(p, str) and _UNION_MEMBER.match(p))]
        where = ".".join(loc) or "(top level)"
        got = e.get("input")
        got_txt = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        msgs, _ = by_field.setdefault(where, ([], got_txt))
        if msg not in msgs:
            msgs.append(msg)
    return "\n".join(f"{path}: {where}: {' or '.join(msgs)}{got_txt}" for where, (msgs, got_txt) in by_field.items())


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}")
    return data


class _FromEnvironment(Settings, BaseSettings):
    """The settings' fields as pydantic-settings reads them from the environment. Only its source
    is used (raw values, merged over the file's), so validation and its errors stay `Settings`'."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False, extra="ignore"
    )


class _SmtpShortcuts(BaseSettings):
    """`USCHINA_DIGEST_SMTP_HOST`, `_PORT`, `_SECURITY`, `_USERNAME`, `_PASSWORD`: short names for
    the email keys a deployment sets most."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX + "SMTP_", case_sensitive=False, extra="ignore")
    host: str | None = None
    port: str | None = None
    security: str | None = None
    username: str | None = None
    password: str | None = None


_SMTP_FIELDS = {
    "host": "smtp_host",
    "port": "smtp_port",
    "security": "security",
    "username": "username",
    "password": "password",
}


def environment_overrides() -> dict[str, Any]:
    """What the environment sets, as raw values in the shape of the YAML file."""
    try:
        values = EnvSettingsSource(_FromEnvironment)()
        smtp = EnvSettingsSource(_SmtpShortcuts)()
    except SettingsError as e:  # a list or mapping that is not JSON
        raise ConfigError(f"environment: {e} (lists and mappings are written as JSON)") from None
    values.pop("config_path", None)  # not a setting: the file is `--config` or USCHINA_DIGEST_CONFIG
    if smtp:
        email = values.get("email") if isinstance(values.get("email"), dict) else {}
        values["email"] = {**email, **{_SMTP_FIELDS[k]: v for k, v in smtp.items()}}
    return values


def _merged(base: dict, override: dict) -> dict:
    """`base` with `override`'s values on top, mappings merged key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(base: Path, value: Path | None) -> Path | None:
    if value is None:
        return None
    value = Path(os.path.expanduser(str(value)))
    return value if value.is_absolute() else (base / value).resolve()


def config_path_from_env(path: str | Path | None = None) -> Path:
    """The config file to use: the argument, else `$USCHINA_DIGEST_CONFIG`, else the project's."""
    if path:
        return Path(path)
    env = os.environ.get(ENV_PREFIX + "CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load_settings(path: str | Path | None = None) -> Settings:
    """Load, override from the environment, validate and resolve paths. Raises ConfigError."""
    cfg_path = config_path_from_env(path).resolve()
    data = _read_yaml(cfg_path)
    if "password" in (data.get("email") or {}):
        raise ConfigError(
            f"{cfg_path}: email.password: secrets do not belong in config files; "
            f"set {ENV_PREFIX}SMTP_PASSWORD or email.password_block instead"
        )
    data = _merged(data, environment_overrides())
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(cfg_path, e)) from None
    base = cfg_path.parent
    settings.data_dir = _resolve(base, settings.data_dir)
    settings.digests_dir = _resolve(base, settings.digests_dir)
    settings.seeds_dir = _resolve(base, settings.seeds_dir)
    settings.issues_file = _resolve(base, settings.issues_file)
    for name in ("outlets_file", "actors_file"):
        path = _resolve(base, getattr(settings, name))
        if not path.is_file() and (PROJECT_ROOT / "config" / path.name).is_file():
            path = PROJECT_ROOT / "config" / path.name  # a config folder without its own copy
        setattr(settings, name, path)
    settings.feeds_opml = _resolve(base, settings.feeds_opml)
    settings.email.ca_file = _resolve(base, settings.email.ca_file)
    settings.config_path = cfg_path
    if settings.seeds_dir is not None and not settings.seeds_dir.is_dir():
        raise ConfigError(f"{cfg_path}: seeds_dir: folder {settings.seeds_dir} does not exist")
    if settings.feeds_opml is not None and not settings.feeds_opml.is_file():
        raise ConfigError(f"{cfg_path}: feeds_opml: file {settings.feeds_opml} does not exist")
    return settings


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Load and validate an issues file. Raises ConfigError."""
    path = Path(path)
    data = _read_yaml(path)
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(path, e)) from None
