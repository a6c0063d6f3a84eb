"""The tests' clock: the server's, never the test process's.

Every function that compares an occurred_at, a period or an expiry with ``now()`` does so on the server's
clock, which need not be the test process's (CI runs one leg with the server's clock shifted to a leap day
in 2032). So tests take their dates from ``ServerClock.read(connection)`` (the ``server_clock`` fixture of
tests/conftest.py) and derive every instant from it: this UTC day, ISO week (Monday) and month, the ones
around them, and "later" periods. All values are aware UTC datetimes; ``iso`` formats one for a JSON
payload (``...Z``).

``future_day`` and ``future_week`` are the starts of a day and an ISO week at least one whole period after
the clock was read: whatever instant the server reaches while the test runs (a test takes seconds, not a
day), an event in them opens a later period than any row the test created, exactly as the fixed far-future
dates did before. They start on a boundary, so ``future_week + n * DAY`` is weekday ``n`` (0 = Monday).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import psycopg

Schedule = Literal["daily", "weekly", "monthly"]

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)


def iso(at: datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with ``Z``: ``2032-02-29T00:01:00Z`` (microseconds if any)."""
    if at.utcoffset() is None:
        raise ValueError(f"a naive datetime has no instant: {at!r}")
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def stamp(day: datetime, days: int, clock: str) -> str:
    """An occurred_at written as a client would: the UTC date ``days`` after ``day``, then ``clock``, a wall
    time with its offset. ``stamp(d, 1, "01:00:00+07:00")`` is 01:00 at UTC+7 on the day after d's date
    (18:00Z on d itself)."""
    return f"{(day + days * DAY).astimezone(timezone.utc):%Y-%m-%d}T{clock}"


def _months_later(first: datetime, months: int) -> datetime:
    """The first of the month ``months`` after ``first`` (itself the first of a month at 00:00)."""
    index = first.year * 12 + first.month - 1 + months
    return first.replace(year=index // 12, month=index % 12 + 1)


@dataclass(frozen=True)
class ServerClock:
    """The server's time when the clock was read (``now``, aware, UTC) and the boundaries around it."""

    now: datetime

    @classmethod
    def read(cls, conn: psycopg.Connection[Any]) -> ServerClock:
        """The server's current time: clock_timestamp(), so an open transaction does not hold it back."""
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        at: datetime = row[0]
        return cls(at.astimezone(timezone.utc))

    # --- days ---------------------------------------------------------------------------------------
    def day(self, offset: int = 0) -> datetime:
        """00:00 UTC of the day ``offset`` days from today (0 = today)."""
        start = self.now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start + offset * DAY

    @property
    def today(self) -> datetime:
        return self.day(0)

    @property
    def yesterday(self) -> datetime:
        return self.day(-1)

    @property
    def tomorrow(self) -> datetime:
        return self.day(1)

    @property
    def future_day(self) -> datetime:
        """The day after tomorrow: later than any day the test can still be running in."""
        return self.day(2)

    # --- ISO weeks (Monday 00:00 UTC) ---------------------------------------------------------------
    def week(self, offset: int = 0) -> datetime:
        """Monday 00:00 UTC of the ISO week ``offset`` weeks from this one (0 = this week)."""
        return self.day(-self.now.weekday()) + offset * WEEK

    @property
    def week_start(self) -> datetime:
        return self.week(0)

    @property
    def next_week(self) -> datetime:
        return self.week(1)

    @property
    def future_week(self) -> datetime:
        """The Monday of the week after next: later than any week the test can still be running in."""
        return self.week(2)

    # --- months (the 1st, 00:00 UTC) -----------------------------------------------------------------
    def month(self, offset: int = 0) -> datetime:
        """The 1st, 00:00 UTC, of the month ``offset`` months from this one (0 = this month)."""
        return _months_later(self.day(1 - self.now.day), offset)

    @property
    def month_start(self) -> datetime:
        return self.month(0)

    @property
    def next_month(self) -> datetime:
        return self.month(1)

    # --- periods and relative instants -------------------------------------------------------------
    def period_start(self, schedule: Schedule) -> datetime:
        """Start of the rotation period holding now (what challenge._period_start computes)."""
        return {"daily": self.today, "weekly": self.week_start, "monthly": self.month_start}[schedule]

    def next_boundary(self, schedule: Schedule) -> datetime:
        """End (exclusive) of the rotation period holding now: the next day, Monday or 1st."""
        return {"daily": self.tomorrow, "weekly": self.next_week, "monthly": self.next_month}[schedule]

    def ago(self, delta: timedelta) -> datetime:
        return self.now - delta

    def minutes_ago(self, minutes: float) -> datetime:
        """``minutes`` before now: mind that a few minutes ago may be yesterday (or last week, month)."""
        return self.now - minutes * MINUTE
