"""Property tests for date handling: UTC everywhere in the store, digest ids that name the local
day or ISO week they close, and CLI date options that either parse or give a one-line error."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.cli import _parse_when
from flows.digest.select import digest_id
from flows.store.items import as_utc

PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = [
    "America/New_York",
    "Asia/Shanghai",
    "UTC",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Europe/London",
]
# Keep a day of margin from the calendar's ends so any zone offset stays representable.
instants = st.datetimes(min_value=datetime(1, 1, 3), max_value=datetime(9999, 12, 29), timezones=st.timezones())


@PROPS
@given(instants)
def test_as_utc_keeps_the_instant_and_says_utc(value: datetime) -> None:
    out = as_utc(value)
    assert out.tzinfo is timezone.utc
    assert out.timestamp() == value.timestamp()  # (== is False by design for times in a DST gap)
    assert as_utc(out) == out
    naive = value.replace(tzinfo=None)
    assert as_utc(naive) == naive.replace(tzinfo=timezone.utc)  # SQLite's naive = UTC


@PROPS
@given(instants, st.sampled_from(ZONES))
def test_daily_and_weekly_ids_name_the_local_date(until: datetime, tz: str) -> None:
    local = until.astimezone(ZoneInfo(tz))
    daily = digest_id("daily", until, tz)
    assert daily.startswith("daily-")
    if local.year >= 1000:  # %Y is not zero-padded before year 1000
        assert date.fromisoformat(daily.removeprefix("daily-")) == local.date()
    year, week, _ = local.isocalendar()
    assert digest_id("weekly", until, tz) == f"weekly-{year}-W{week:02d}"
    # Two instants in one local day share the daily id (a re-run replaces, never duplicates).
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=23, minutes=59)
    if start.utcoffset() == end.utcoffset() == local.utcoffset():
        assert digest_id("daily", start, tz) == digest_id("daily", end, tz) == daily


@PROPS
@given(st.datetimes(timezones=st.one_of(st.none(), st.timezones())))
def test_cli_dates_round_trip_and_default_to_utc(value: datetime) -> None:
    parsed = _parse_when(value.isoformat())
    assert parsed.tzinfo is not None
    expected = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    assert parsed.timestamp() == expected.timestamp()


@PROPS
@given(st.text(max_size=40))
def test_cli_dates_are_a_date_or_a_one_line_error(text: str) -> None:
    try:
        parsed = _parse_when(text)
    except click.BadParameter as e:
        assert "\n" not in e.message and "ISO date" in e.message
    else:
        assert parsed.tzinfo is not None


@pytest.mark.parametrize(
    "raw",
    [
        "0000-00-00",
        "2026-02-30",
        "2026-13-01",
        "99999-01-01",
        "2026-01-01T25:00",
        "1e9",
        "",
        "   ",
        "\x00",
        "2026-01-01T00:00+99:00",
    ],
)
def test_absurd_cli_dates_are_refused_clearly(raw: str) -> None:
    with pytest.raises(click.BadParameter, match="ISO date"):
        _parse_when(raw)
