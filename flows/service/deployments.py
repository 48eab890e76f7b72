"""The service: the pipeline's deployments, scheduled from `config/pipeline.yaml`, served by this process.

`uschina-digest serve` registers four deployments with the Prefect server and runs their flow runs
(scheduled ones, and any started from the UI, the API or `prefect deployment run`) in
subprocesses of this one:

* `ingest/scheduled` — every `schedule.ingest_interval_minutes`, anchored at local midnight;
* `digest/daily` — `schedule.daily_cron`; `digest/weekly` — `schedule.weekly_cron`;
* `ingest-shard/served` — no schedule: the shard runs an `ingest` with shards > 1 fans out to.

Cron and interval are read in `schedule.timezone` (a cron without a zone would be UTC). The schedules
are re-registered at every start, so editing the YAML and restarting `serve` changes them.
Shutting down leaves the schedules active (`pause_on_shutdown=False`): runs scheduled while no
server process is serving wait, and start when one is back.

Each deployment's parameter schema is made for the run form and narrowed to this config: an
optional parameter is one input (a date-time picker, a number, a select), not a "type | None"
switch; `config_path` is fixed to the file served (read-only in the UI), `sources` to
`all`/`seeds`/`feeds`/the configured feed names, `issues` to the taxonomy's ids and a shard's
`feeds` to the configured URLs — the server refuses anything else, and the UI offers the choices
(a select, a multi-select for a list).
"""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "flows")
# Outside a flow run (this serving process) the `flows` loggers write to the console only.
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

import logging  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from flows.config import Settings  # noqa: E402

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

log = logging.getLogger(__name__)

TAGS = ["uschina-digest"]


def local_midnight(tz: str, now: datetime | None = None) -> datetime:
    """Today's midnight in `tz`: the anchor that puts a 30-minute interval on :00 and :30."""
    now = (now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz))
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _fix_parameter(deployment: "RunnerDeployment", name: str, value: str) -> None:
    """Pin a parameter to one value: the UI shows it read-only, the API refuses any other."""
    prop = deployment._parameter_openapi_schema.properties[name]
    deployment._parameter_openapi_schema.properties[name] = {
        "title": prop.get("title", name),
        "position": prop.get("position"),
        "description": "Fixed for this deployment: the file `uschina-digest serve` was started with.",
        "type": "string",
        "enum": [value],
        "default": value,
        "readOnly": True,
    }
    deployment.parameters[name] = value


def _one_input(deployment: "RunnerDeployment") -> None:
    """Show each optional parameter in the run form as its own input, not a "type | None" switch.

    A `T | None = None` parameter's schema is `anyOf: [T, null]` with `default: null`, which the
    UI draws as a switch between T and None, set to None: 'Property is type "None"' where the
    date-time picker (or number, or select) should be. Served, the property is T itself without a
    default: the form shows T's input and sends nothing when it is left empty, so the flow takes
    its default (None); the server still accepts an explicit null for a property with no default.
    """
    properties = deployment._parameter_openapi_schema.properties
    for name, prop in properties.items():
        arms = prop.get("anyOf") or []
        if "default" in prop and prop["default"] is None and len(arms) == 2 and {"type": "null"} in arms:
            (real,) = [arm for arm in arms if arm != {"type": "null"}]
            rest = {key: value for key, value in prop.items() if key not in ("anyOf", "default")}
            properties[name] = {**real, **rest}


def _choices(deployment: "RunnerDeployment", name: str, choices: list[str]) -> None:
    """Narrow a string (or list-of-strings) parameter's choices to the served config's (after `_one_input`)."""
    prop = deployment._parameter_openapi_schema.properties[name]
    (prop["items"] if prop.get("type") == "array" else prop)["enum"] = choices


def deployments(settings: Settings) -> list["RunnerDeployment"]:
    """The deployments of this config: schedules in its time zone, parameters narrowed to it."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron, Interval

    from flows.service.flows import digest, feed_urls, ingest, ingest_shard, issue_ids, source_names

    sched = settings.schedule
    tz = sched.timezone
    config = str(settings.config_path)
    common = {"tags": TAGS, "entrypoint_type": EntrypointType.MODULE_PATH}
    every = timedelta(minutes=sched.ingest_interval_minutes)

    ingest_dep = ingest.to_deployment(
        "scheduled",
        schedules=[Interval(every, anchor_date=local_midnight(tz), timezone=tz)],
        description=f"Ingest every {sched.ingest_interval_minutes} min ({tz}); a run already in progress "
        "makes the next one skip.",
        **common,
    )
    daily = digest.to_deployment(
        "daily",
        schedules=[Cron(sched.daily_cron, timezone=tz)],
        parameters={"period": "daily"},
        description=f"The daily digest at `{sched.daily_cron}` ({tz}).",
        **common,
    )
    weekly = digest.to_deployment(
        "weekly",
        schedules=[Cron(sched.weekly_cron, timezone=tz)],
        parameters={"period": "weekly"},
        description=f"The weekly digest at `{sched.weekly_cron}` ({tz}).",
        **common,
    )
    shard = ingest_shard.to_deployment(
        "served", description="One shard of a fanned-out ingest (started by `ingest` with shards > 1).", **common
    )

    for dep in (ingest_dep, daily, weekly, shard):
        _one_input(dep)
    _choices(ingest_dep, "sources", source_names(settings))
    _choices(shard, "feeds", feed_urls(settings))
    for dep in (daily, weekly):
        _choices(dep, "issues", issue_ids(settings))
    for dep in (ingest_dep, daily, weekly, shard):
        _fix_parameter(dep, "config_path", config)
    return [ingest_dep, daily, weekly, shard]


def describe(settings: Settings) -> str:
    sched = settings.schedule
    return (
        f"ingest/scheduled every {sched.ingest_interval_minutes} min; digest/daily '{sched.daily_cron}'; "
        f"digest/weekly '{sched.weekly_cron}' ({sched.timezone}); config {settings.config_path}"
    )


def serve(settings: Settings, limit: int | None = None) -> None:
    """Register the deployments and run their flow runs until interrupted."""
    from prefect import serve as prefect_serve

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per API request
    log.info("serving %s", describe(settings))
    prefect_serve(*deployments(settings), pause_on_shutdown=False, limit=limit)
