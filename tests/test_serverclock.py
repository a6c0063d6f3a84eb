"""The tests' clock (tests/serverclock.py): its boundaries at fixed instants, and what the fixture reads."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from tests.serverclock import DAY, Schedule, ServerClock, iso, stamp


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


# now, then today, this week's Monday, this month's 1st, the week after next's Monday, next month's 1st.
CASES = [  # pure: ServerClock's arithmetic on fixed instants, compared with the calendar
    # CI's shifted clock: a Sunday, a minute into the last day of a leap February.
    ("2032-02-29T00:01:00", "2032-02-29", "2032-02-23", "2032-02-01", "2032-03-08", "2032-03-01"),
    ("2032-02-29T23:59:59.999999", "2032-02-29", "2032-02-23", "2032-02-01", "2032-03-08", "2032-03-01"),
    ("2032-03-01T00:00:00", "2032-03-01", "2032-03-01", "2032-03-01", "2032-03-15", "2032-04-01"),  # Monday
    ("2026-12-31T23:30:00", "2026-12-31", "2026-12-28", "2026-12-01", "2027-01-11", "2027-01-01"),
    ("2027-01-03T12:00:00", "2027-01-03", "2026-12-28", "2027-01-01", "2027-01-11", "2027-02-01"),  # Sunday
]


@pytest.mark.parametrize(("now", "today", "monday", "first", "future_week", "next_month"), CASES)
def test_boundaries(now: str, today: str, monday: str, first: str, future_week: str, next_month: str) -> None:
    clock = ServerClock(utc(now))
    assert (clock.today, clock.yesterday, clock.tomorrow) == (utc(today), utc(today) - DAY, utc(today) + DAY)
    assert clock.future_day == utc(today) + 2 * DAY
    assert (clock.week_start, clock.next_week) == (utc(monday), utc(monday) + 7 * DAY)
    assert clock.future_week == utc(future_week) and clock.future_week.weekday() == 0
    assert (clock.month_start, clock.next_month) == (utc(first), utc(next_month))
    assert clock.month(12) == utc(first).replace(year=utc(first).year + 1)
    assert (
        clock.month(-1) < clock.month_start <= clock.now < clock.next_boundary("monthly") == clock.next_month
    )
    schedules: tuple[Schedule, ...] = ("daily", "weekly", "monthly")
    for schedule in schedules:
        assert clock.period_start(schedule) <= clock.now < clock.next_boundary(schedule)


def test_minutes_ago_can_be_yesterday() -> None:
    clock = ServerClock(utc("2032-02-29T00:01:00"))  # pure: the shifted clock's first minute
    assert clock.minutes_ago(1) == clock.today
    assert clock.minutes_ago(2) < clock.today and clock.ago(timedelta(days=7)) < clock.week_start


def test_formats() -> None:
    at = datetime(2032, 2, 29, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))  # pure: formatting
    assert iso(at) == "2032-02-29T00:00:00Z"  # pure: formatting
    assert iso(at + timedelta(microseconds=5)) == "2032-02-29T00:00:00.000005Z"  # pure: formatting
    assert stamp(at, 1, "01:00:00+07:00") == "2032-03-01T01:00:00+07:00"  # pure: formatting
    with pytest.raises(ValueError, match="naive"):
        iso(datetime(2032, 2, 29))  # invalid-date: naive


def test_the_fixture_reads_the_servers_clock(db: psycopg.Connection[Any], server_clock: ServerClock) -> None:
    row = db.execute("SELECT now()").fetchone()
    assert row is not None
    later: datetime = row[0]
    assert server_clock.now.utcoffset() == timedelta(0)
    assert server_clock.now <= later < server_clock.now + timedelta(minutes=1)
