"""The occurred_at timestamps every batch write accepts, and the Python writer's pre-check beside them.

Every case goes through the three batch functions (increment_progress_batch, set_progress_batch,
record_events) and through ``pgchallenge.writer.check_event``: a malformed timestamp is CH002 naming the
first bad item and changes nothing, never a raw PostgreSQL error and never a silently reinterpreted
instant. The dates here are validation cases: none of them is compared with the server's clock, except in
the last test, whose goal rotates monthly and whose outcomes do not depend on today's date.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from pgchallenge import writer
from psycopg.types.json import Jsonb

Payload = Callable[[list[Any]], list[dict[str, Any]]]


def increments(stamps: list[Any]) -> list[dict[str, Any]]:
    return [{"user_id": "u1", "goal_id": "g1", "occurred_at": s} for s in stamps]


def values(stamps: list[Any]) -> list[dict[str, Any]]:
    return [{"user_id": "u1", "goal_id": "g1", "value": 1, "occurred_at": s} for s in stamps]


def events(stamps: list[Any]) -> list[dict[str, Any]]:
    return [
        {"event_id": f"e{n}", "user_id": "u1", "kind": "login", "occurred_at": s}
        for n, s in enumerate(stamps)
    ]


FUNCTIONS: dict[str, Payload] = {
    "increment_progress_batch": increments,
    "set_progress_batch": values,
    "record_events": events,
}

ACCEPTED = [
    "2026-12-01T10:00:00Z",
    "2026-12-01T10:00:00z",
    "2026-12-01t10:00:00Z",
    "2026-12-01 10:00:00-08",  # RFC 3339 allows a space; +hh is ISO 8601
    "2026-12-01T10:00+0530",  # seconds optional; +hhmm
    "2026-12-01T10:00:00.5+05:30",
    "2026-12-01T10:00:00.123456789+14:00",  # nanoseconds (Go's RFC3339Nano), rounded to microseconds
    "2026-12-01T10:00:00-14:00",
    "2026-12-01T10:00:00+13:59",
    "2028-02-29T23:59:60Z",  # a leap second: the next minute
    "1900-01-01T00:00:00+14:00",  # the earliest accepted instant
    "9998-12-31T23:59:59.999999-14:00",  # the latest
    None,  # absent: now()
]

# The forms a pre-check can refuse, with no server: CH002 "occurred_at must be an ISO 8601 timestamp ..."
MALFORMED = [
    "2026-12-01T10:00:00+16:00",  # offsets the cast refuses with a raw 22009
    "2026-12-01T10:00:00-18:00",
    "2026-12-01T10:00:00+23:59",
    "2026-12-01T10:00:00+14:60",
    "2026-12-01T10:00:00-99",
    "2026-12-01T10:00:00+9999",
    "2026-12-01T10:00:00+14:01",  # beyond the widest offset in use
    "2026-12-01T10:00:00+5:00",
    "2026-12-01T10:00:00 x3:1+10",  # a raw 22023: time zone not recognized
    "4714-11-24T00:00:00 BC+00",  # passed once, then failed computing a monthly period (22008)
    "2026-12-01T10:00:00 BC+05",  # read as 2026 BC
    "4714-11-23T23:00:00 BC-01",  # read as 4714 AD
    "2026-12-01Tnow+05",  # read as now
    "2026-12-01T10:00:00 foo+05",  # read as 15:00 UTC while +05 alone is 05:00 UTC
    "2026-12-01T10:00:00 Europe/Paris",
    "2026-12-01T10:00:00",  # zone-less: would depend on the session TimeZone
    "2026-12-01",
    "2026-12-01T24:00:00Z",
    "2026-12-01T10:60:00Z",
    "2026-12-01T10:00:61Z",
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-12-32T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",  # Go's zero time: an unset clock
    "1899-12-31T23:59:59Z",
    "9999-01-01T00:00:00Z",  # a monthly period's end would leave the years clients can hold
    "12026-12-01T10:00:00Z",
    "2026-12-01T10:00:00.Z",
    "2026-12-01T10:00:00.1234567890Z",  # ten fraction digits
    "\uff12\uff10\uff12\uff16-12-01T10:00:00Z",  # full-width digits
    " 2026-12-01T10:00:00Z",
    "2026-12-01T10:00:00Z ",
    "2026-12-01T10:00:00Z|2026-12-01T10:00:00Z",  # the batch check's separator inside one value
    "",
    12345,
    True,
    {"at": "2026-12-01T10:00:00Z"},
]

# The right form, but no such day: only the server's cast can tell; CH002 "... is not a valid timestamp".
NO_SUCH_DAY = ["2026-02-30T10:00:00Z", "2027-02-29T00:00:00Z", "2026-04-31T00:00:00+01:00"]


def call(db: psycopg.Connection[Any], function: str, payload: list[dict[str, Any]]) -> Any:
    return db.execute(f"SELECT challenge.{function}(%s)", [Jsonb(payload)]).fetchone()


def remembered(db: psycopg.Connection[Any]) -> int:
    return int(db.execute("SELECT count(*) FROM challenge.processed_events").fetchone()[0])  # type: ignore[index]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_accepted_forms_pass_every_batch(db: psycopg.Connection[Any], function: str) -> None:
    call(db, function, FUNCTIONS[function](ACCEPTED))
    for stamp in ACCEPTED:
        assert writer.check_event(events([stamp])[0]) is None, stamp


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("stamp", MALFORMED, ids=repr)
def test_malformed_is_ch002_naming_the_item_and_changes_nothing(
    db: psycopg.Connection[Any], function: str, stamp: Any
) -> None:
    payload = FUNCTIONS[function](["2026-12-01T10:00:00Z", stamp])
    for item in payload:
        item["event_id"] = f"{item.get('event_id', 'x')}-{function}"
    with pytest.raises(psycopg.Error) as caught:
        call(db, function, payload)
    assert caught.value.sqlstate == "CH002", caught.value
    assert "item 1: occurred_at must be an ISO 8601 timestamp" in str(caught.value)
    assert remembered(db) == 0
    # The writer refuses it at submit, in the same words.
    problem = writer.check_event(events([stamp])[0])
    assert problem is not None and problem.startswith("occurred_at must be an ISO 8601 timestamp")
    detail = str(caught.value.diag.message_detail)
    assert detail.startswith(f"item 1: {problem.split(', got ')[0]}, got "), (detail, problem)


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("stamp", NO_SUCH_DAY)
def test_no_such_day_is_ch002_from_the_server_alone(
    db: psycopg.Connection[Any], function: str, stamp: str
) -> None:
    with pytest.raises(psycopg.Error) as caught:
        call(db, function, FUNCTIONS[function]([None, "2026-12-01T10:00:00Z", stamp]))
    assert caught.value.sqlstate == "CH002"
    assert "item 2: occurred_at is not a valid timestamp" in str(caught.value)
    assert writer.check_event(events([stamp])[0]) is None  # the server's cast is the judge


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_first_bad_item_is_named_whatever_its_kind(db: psycopg.Connection[Any], function: str) -> None:
    # A day that does not exist first, then a good item, then an item with an unknown key.
    payload = FUNCTIONS[function](["2026-02-30T10:00:00Z", "2026-12-01T10:00:00Z", None])
    payload[2]["nope"] = 1
    with pytest.raises(psycopg.Error, match="item 0: occurred_at is not a valid timestamp"):
        call(db, function, payload)
    # Another kind of problem earlier than the bad timestamp is named instead.
    payload = FUNCTIONS[function]([None, "2026-12-01T10:00:00", "2026-12-01T10:00:00Z"])
    payload[0]["user_id"] = ""
    with pytest.raises(psycopg.Error, match="item 0: user_id must be"):
        call(db, function, payload)


def test_the_python_pattern_is_the_sql_one(db: psycopg.Connection[Any]) -> None:
    (sql_pattern,) = db.execute("SELECT challenge._timestamp_pattern()").fetchone()  # type: ignore[misc]
    assert sql_pattern == writer.TIMESTAMP_PATTERN


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/Los_Angeles", "Pacific/Kiritimati"])
def test_accepted_forms_mean_one_instant_whatever_the_session_time_zone(
    db: psycopg.Connection[Any], zone: str
) -> None:
    stamps = [s for s in ACCEPTED if s is not None]
    db.execute("SELECT set_config('TimeZone', 'UTC', false)")
    expected = [db.execute("SELECT %s::timestamptz", [s]).fetchone() for s in stamps]
    db.execute("SELECT set_config('TimeZone', %s, false)", [zone])
    assert [db.execute("SELECT %s::timestamptz", [s]).fetchone() for s in stamps] == expected


def test_extreme_instants_compute_their_periods(db: psycopg.Connection[Any]) -> None:
    """The earliest and latest accepted instants on goals that rotate monthly and count per day: the
    period arithmetic always computes (4714 BC once failed here with a raw 22008), and
    every timestamp the reads return is one Python's datetime holds."""
    goal = {
        "name": "m",
        "type": "increment",
        "eventSource": "statistic",
        "defaultAssigned": True,
        "requirement": {"statCode": "kills", "operator": ">=", "targetValue": 5},
        "reward": {"type": "ITEM", "rewardId": "chest", "quantity": 1},
    }
    config = {
        "challenges": [
            {
                "challengeId": "c",
                "name": "c",
                "goals": [
                    {**goal, "goalId": "monthly", "rotation": {"enabled": True, "schedule": "monthly"}},
                    {**goal, "goalId": "per-day", "type": "daily"},
                    {**goal, "goalId": "once-a-day", "daily": True},
                ],
            }
        ]
    }
    db.execute("SELECT challenge.load_config(%s)", [Jsonb(config)])
    db.execute("SELECT challenge.initialize_player('u1')")
    earliest, latest = "1900-01-01T00:00:00+14:00", "9998-12-31T23:59:59.999999-14:00"
    items = [
        {"user_id": "u1", "goal_id": g, "occurred_at": at}
        for g in ("monthly", "per-day", "once-a-day")
        for at in (earliest, latest)
    ]
    result = call(db, "increment_progress_batch", items)[0]
    # The earliest instant is before the rotating rows' current period or day: stale there; the once-a-day
    # goal counts both days (it counts days in any order); the latest instant moves every row forward.
    assert (result["applied"], result["skipped"]["stale_event"]) == (4, 2), result
    reads = "SELECT goal_id, expires_at, updated_at FROM challenge.get_user_progress('u1')"
    rows = db.execute(reads).fetchall()
    assert len(rows) == 3, rows
    stats = [
        {"event_id": f"s{n}", "user_id": "u1", "kind": "statistic", "stat_code": "kills", "occurred_at": at}
        for n, at in enumerate((earliest, latest))
    ]
    assert call(db, "record_events", stats)[0]["events"] == 2
