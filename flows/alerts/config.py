"""`config/alerts.yaml`: named saved searches, each alerted by e-mail or a webhook.

    batch_over: 5            # more new stories than this for one alert in one ingest: one message
    alerts:
      - name: entity-list
        query: '"entity list"'
        channel: email
        recipients: [analyst@example.org]
      - name: taiwan-arms
        query: 'taiwan "arms sale" OR "arms sales"'
        channel: webhook
        url_env: USCHINA_DIGEST_SLACK_WEBHOOK     # or url: https://hooks.slack.com/… (a secret: prefer url_env)

The file sits beside the pipeline config (`alerts.yaml` in the config file's folder); without it
there are no saved searches. Every query is parsed on load, so a bad one is a one-line error.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from flows.config import ConfigError, Settings, _format_validation_error, _Model, _read_yaml
from flows.search.query import Query, QueryError, parse


class Alert(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Slug: names its feed and its messages.")
    query: str = Field(description="A query in the search language (see docs/search.md).")
    channel: Literal["email", "webhook"] = "email"
    recipients: list[str] = Field(default_factory=list, description="E-mail addresses (channel: email).")
    url: str | None = Field(default=None, description="Webhook URL (channel: webhook); prefer url_env.")
    url_env: str | None = Field(default=None, description="Environment variable holding the webhook URL.")

    @field_validator("query")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            if parse(value).is_empty:
                raise ValueError("the query is empty")
        except QueryError as e:
            raise ValueError(f"invalid query: {e}") from None
        return value

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for v in values:
            if "@" not in v or " " in v or v.strip() != v:
                raise ValueError(f"{v!r} is not an email address like name@example.org")
        return values

    @model_validator(mode="after")
    def _channel(self) -> "Alert":
        if self.channel == "email" and not self.recipients:
            raise ValueError("channel email needs recipients")
        if self.channel == "webhook" and not (self.url or self.url_env):
            raise ValueError("channel webhook needs url or url_env")
        if self.url and not self.url.lower().startswith(("http://", "https://")):
            raise ValueError("url must be an http:// or https:// URL")
        return self

    @property
    def parsed(self) -> Query:
        return parse(self.query)

    def webhook_url(self) -> str | None:
        """The webhook URL, from the environment when `url_env` names a variable."""
        if self.url_env:
            return os.environ.get(self.url_env) or None
        return self.url

    @property
    def webhook_recipient(self) -> str:
        """How the delivery log names this webhook: its alert and a hash, never the URL (a secret)."""
        source = self.url_env or self.url or ""
        return f"webhook:{self.name}:{hashlib.sha256(source.encode()).hexdigest()[:12]}"


class AlertsFile(_Model):
    batch_over: int = Field(
        default=5, ge=1, le=100, description="More new stories than this for one alert in one run: one message for all."
    )
    alerts: list[Alert] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "AlertsFile":
        names = [a.name for a in self.alerts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"alert names must be unique: {', '.join(dupes)}")
        return self


def alerts_path(settings: Settings) -> Path | None:
    if settings.config_path is None:
        return None
    return settings.config_path.parent / "alerts.yaml"


def load_alerts(settings: Settings) -> AlertsFile:
    """The saved searches beside the config (none without the file). Raises ConfigError."""
    path = alerts_path(settings)
    if path is None or not path.exists():
        return AlertsFile()
    try:
        return AlertsFile.model_validate(_read_yaml(path))
    except ValidationError as e:
        raise ConfigError(_format_validation_error(path, e)) from None
