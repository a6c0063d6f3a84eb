"""Once-per-day increments (rule 5), absolute values (rule 6), and the session TimeZone changing nothing.

Explicit occurred_at values are on the days from ``day`` (a UTC day after any the test runs in, from the
server's clock): ``stamp(day, n, "23:00:00-08:00")`` is that wall time and offset on the date n days later.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.serverclock import HOUR, ServerClock, iso, stamp
from tests.sql.sqlhelpers import Api, batch_total, outcome_of, skipped

# Increment goals with daily: true. (A "type: daily" goal counts every event and resets each UTC day:
# tests/sql/test_rotation.py.)
ONCE_PER_DAY_GOALS = ["login-daily"]
TIME_ZONES = ["UTC", "Asia/Jakarta", "America/Los_Angeles"]


@pytest.fixture
def day(server_clock: ServerClock) -> datetime:
    return server_clock.future_day


@pytest.fixture(params=TIME_ZONES)
def zoned_api(request: pytest.FixtureRequest, api: Api) -> Iterator[Api]:
    """The api with the session TimeZone set; every result must be the same as in UTC."""
    api.conn.execute(f"SET TIME ZONE '{request.param}'")
    yield api
    api.conn.execute("RESET TIME ZONE")


def inc_items(user_id: str, goal_id: str, *times: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"user_id": user_id, "goal_id": goal_id, "occurred_at": t, **extra} for t in times]


# --- once per UTC day ----------------------------------------------------------------------------------


@pytest.mark.parametrize("goal_id", ONCE_PER_DAY_GOALS)
def test_counted_on_the_day_of_assignment(zoned_api: Api, goal_id: str) -> None:
    """The reference read updated_at as the last counted day: assignment swallowed the first event (B-1)."""
    api = zoned_api
    api.init("u1")
    first = api.inc("u1", goal_id)
    assert (first["outcome"], first["progress"], first["status"]) == ("applied", 1, "in_progress")
    second = api.inc("u1", goal_id)
    assert (second["outcome"], second["progress"]) == ("already_counted_today", 1)


@pytest.mark.parametrize("goal_id", ONCE_PER_DAY_GOALS)
def test_counted_on_the_day_of_assignment_batch(zoned_api: Api, goal_id: str) -> None:
    api = zoned_api
    api.init("u1")
    result = api.inc_batch([{"user_id": "u1", "goal_id": goal_id}, {"user_id": "u1", "goal_id": goal_id}])
    assert result["applied"] == 1
    assert result["skipped"] == skipped(already_counted_today=1)
    assert api.must_get("u1", goal_id)["progress"] == 1


@pytest.mark.parametrize("goal_id", ONCE_PER_DAY_GOALS)
def test_reactivation_does_not_swallow_the_days_event(api: Api, goal_id: str) -> None:
    api.init("u1")
    api.set_active("u1", goal_id, False)
    api.set_active("u1", goal_id, True)
    assert api.inc("u1", goal_id)["outcome"] == "applied"


@pytest.mark.parametrize("goal_id", ONCE_PER_DAY_GOALS)
def test_once_per_utc_day_across_calls(zoned_api: Api, day: datetime, goal_id: str) -> None:
    api = zoned_api
    api.init("u1")
    outcomes = [
        api.inc("u1", goal_id, occurred_at=t)["outcome"]
        for t in (
            stamp(day, 0, "00:00:00Z"),
            stamp(day, 0, "23:59:59.999Z"),
            stamp(day, 1, "00:00:00Z"),
            stamp(day, 1, "12:00:00Z"),
            stamp(day, 0, "12:00:00Z"),  # a day before the last counted day
            stamp(day, 3, "08:00:00Z"),
        )
    ]
    assert outcomes == [
        "applied",
        "already_counted_today",
        "applied",
        "already_counted_today",
        "already_counted_today",
        "applied",
    ]
    assert api.must_get("u1", goal_id)["progress"] == 3


@pytest.mark.parametrize("goal_id", ONCE_PER_DAY_GOALS)
def test_utc_day_boundary_not_session_day(zoned_api: Api, day: datetime, goal_id: str) -> None:
    """Pairs that share a local day in Jakarta or Los Angeles but not a UTC day, and the reverse."""
    api = zoned_api
    api.init("u1")
    # Same UTC day (day 0), different Jakarta days (23:00 and 01:00 next day).
    r1 = api.inc_batch(inc_items("u1", goal_id, stamp(day, 0, "16:00:00Z"), stamp(day, 0, "18:00:00Z")))
    assert (r1["applied"], r1["skipped"]["already_counted_today"]) == (1, 1)
    # Different UTC days, same Los Angeles day (day 1, 15:00 and 17:00 PST).
    r2 = api.inc_batch(inc_items("u1", goal_id, stamp(day, 1, "23:00:00Z"), stamp(day, 2, "01:00:00Z")))
    assert (r2["applied"], r2["skipped"]["already_counted_today"]) == (2, 0)
    # An explicit offset: day 3 at 01:00+07:00 is day 2 at 18:00Z, already counted (UTC day 2).
    r3 = api.inc_batch(inc_items("u1", goal_id, stamp(day, 3, "01:00:00+07:00")))
    assert outcome_of(r3) == "already_counted_today"
    # Day 2 at 20:00-08:00 is day 3 at 04:00Z: a new UTC day.
    r4 = api.inc_batch(inc_items("u1", goal_id, stamp(day, 2, "20:00:00-08:00")))
    assert outcome_of(r4) == "applied"
    assert api.must_get("u1", goal_id)["progress"] == 4


@pytest.mark.parametrize("goal_id", ONCE_PER_DAY_GOALS)
def test_two_days_in_one_batch_both_count(zoned_api: Api, day: datetime, goal_id: str) -> None:
    api = zoned_api
    api.init("u1")
    result = api.inc_batch(
        inc_items(
            "u1", goal_id, stamp(day, 4, "10:00:00Z"), stamp(day, 4, "11:00:00Z"), stamp(day, 5, "10:00:00Z")
        )
    )
    assert result["applied"] == 2
    assert result["skipped"] == skipped(already_counted_today=1)
    assert api.must_get("u1", goal_id)["progress"] == 2


@pytest.mark.parametrize("goal_id", ONCE_PER_DAY_GOALS)
def test_days_out_of_order_in_one_batch_both_count(api: Api, day: datetime, goal_id: str) -> None:
    """decisions.md: each UTC day newer than the row's last counted day counts once in a batch."""
    api.init("u1")
    result = api.inc_batch(inc_items("u1", goal_id, stamp(day, 5, "10:00:00Z"), stamp(day, 4, "10:00:00Z")))
    assert result["applied"] == 2
    assert api.must_get("u1", goal_id)["progress"] == 2
    later = api.inc_batch(inc_items("u1", goal_id, stamp(day, 4, "20:00:00Z"), stamp(day, 5, "20:00:00Z")))
    assert later["skipped"]["already_counted_today"] == 2


def test_once_per_day_per_row_not_per_goal(api: Api, day: datetime) -> None:
    api.init("u1")
    api.init("u2")
    result = api.inc_batch(
        inc_items("u1", "login-daily", stamp(day, 0, "10:00:00Z"))
        + inc_items("u2", "login-daily", stamp(day, 0, "10:00:00Z"))
        + inc_items("u1", "play-3", stamp(day, 0, "10:00:00Z"))
    )
    assert result["applied"] == 3


def test_daily_goal_completes_after_target_days(api: Api, day: datetime) -> None:
    api.init("u1")
    days = [stamp(day, n, "09:00:00Z") for n in range(7)]
    result = api.inc_batch(inc_items("u1", "login-daily", *days))
    assert result["applied"] == 7
    assert [(c["user_id"], c["goal_id"]) for c in result["completed"]] == [("u1", "login-daily")]
    row = api.must_get("u1", "login-daily")
    assert (row["progress"], row["status"]) == (7, "completed")


def test_non_daily_increment_counts_every_event_of_a_day(api: Api, day: datetime) -> None:
    api.init("u1")
    result = api.inc_batch(inc_items("u1", "kill-10", *[stamp(day, 0, "10:00:00Z")] * 3))
    assert result["applied"] == 3


def test_daily_event_ids_and_already_counted(api: Api, day: datetime) -> None:
    api.init("u1")
    result = api.inc_batch(
        inc_items("u1", "login-daily", stamp(day, 0, "10:00:00Z"), event_id="d-1")
        + inc_items("u1", "login-daily", stamp(day, 0, "10:00:00Z"), event_id="d-1")
        + inc_items("u1", "login-daily", stamp(day, 0, "11:00:00Z"), event_id="d-2")
    )
    assert result["applied"] == 1
    assert result["skipped"] == skipped(duplicate_event=1, already_counted_today=1)


# --- absolute values -----------------------------------------------------------------------------------


def set_items(user_id: str, goal_id: str, *pairs: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"user_id": user_id, "goal_id": goal_id, "value": v, "occurred_at": t} for v, t in pairs]


def test_absolute_value_replaces_progress(zoned_api: Api, day: datetime) -> None:
    api = zoned_api
    api.init("u1")
    assert (
        outcome_of(api.set_batch(set_items("u1", "reach-lvl-20", (17, stamp(day, 0, "10:00:00Z")))))
        == "applied"
    )
    row = api.must_get("u1", "reach-lvl-20")
    assert (row["progress"], row["status"]) == (17, "in_progress")
    assert (
        outcome_of(api.set_batch(set_items("u1", "reach-lvl-20", (12, stamp(day, 0, "11:00:00Z")))))
        == "applied"
    )
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 12


def test_out_of_order_older_value_is_stale(zoned_api: Api, day: datetime) -> None:
    api = zoned_api
    api.init("u1")
    api.set_batch(set_items("u1", "reach-lvl-20", (10, stamp(day, 0, "12:00:00Z"))))
    before = api.must_get("u1", "reach-lvl-20")
    result = api.set_batch(set_items("u1", "reach-lvl-20", (15, stamp(day, 0, "11:59:59Z"))))
    assert result["skipped"] == skipped(stale_event=1)
    assert result["applied"] == 0
    assert api.must_get("u1", "reach-lvl-20") == before
    # The same instant written with an offset is not older: it applies.
    same = api.set_batch(set_items("u1", "reach-lvl-20", (11, stamp(day, 0, "19:00:00+07:00"))))
    assert outcome_of(same) == "applied"
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 11


def test_stale_is_judged_per_row(api: Api, day: datetime) -> None:
    api.init("u1")
    api.init("u2")
    api.set_batch(set_items("u1", "reach-lvl-20", (10, stamp(day, 0, "12:00:00Z"))))
    result = api.set_batch(set_items("u2", "reach-lvl-20", (4, stamp(day, 0, "08:00:00Z"))))
    assert outcome_of(result) == "applied"


def test_latest_occurred_at_wins_within_a_batch(api: Api, day: datetime) -> None:
    api.init("u1")
    result = api.set_batch(
        set_items(
            "u1",
            "reach-lvl-20",
            (11, stamp(day, 0, "10:00:00Z")),
            (15, stamp(day, 0, "12:00:00Z")),
            (12, stamp(day, 0, "11:00:00Z")),
        )
    )
    assert batch_total(result) == 3
    assert result["applied"] >= 1
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 15
    # The row remembers 12:00 as the last value's time: 11:30 is now stale.
    later = api.set_batch(set_items("u1", "reach-lvl-20", (13, stamp(day, 0, "11:30:00Z"))))
    assert outcome_of(later) == "stale_event"


def test_equal_occurred_at_within_a_batch_later_item_wins(api: Api, day: datetime) -> None:
    api.init("u1")
    result = api.set_batch(
        set_items("u1", "reach-lvl-20", (15, stamp(day, 0, "10:00:00Z")), (12, stamp(day, 0, "10:00:00Z")))
    )
    assert batch_total(result) == 2
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 12


def test_latest_wins_per_user_in_one_batch(api: Api, day: datetime) -> None:
    api.init("u1")
    api.init("u2")
    result = api.set_batch(
        set_items("u1", "reach-lvl-20", (3, stamp(day, 0, "12:00:00Z")), (9, stamp(day, 0, "10:00:00Z")))
        + set_items("u2", "reach-lvl-20", (4, stamp(day, 0, "10:00:00Z")), (8, stamp(day, 0, "12:00:00Z")))
    )
    assert batch_total(result) == 4
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 3
    assert api.must_get("u2", "reach-lvl-20")["progress"] == 8


def test_completion_is_sticky(zoned_api: Api, day: datetime) -> None:
    api = zoned_api
    api.init("u1")
    result = api.set_batch(set_items("u1", "reach-lvl-20", (20, stamp(day, 0, "10:00:00Z"))))
    assert [(c["user_id"], c["goal_id"]) for c in result["completed"]] == [("u1", "reach-lvl-20")]
    done = api.must_get("u1", "reach-lvl-20")
    assert done["status"] == "completed"
    assert done["completed_at"] is not None

    lower = api.set_batch(set_items("u1", "reach-lvl-20", (5, stamp(day, 0, "11:00:00Z"))))
    assert outcome_of(lower) == "applied"
    assert lower["completed"] == []
    row = api.must_get("u1", "reach-lvl-20")
    assert (row["progress"], row["status"], row["completed_at"]) == (5, "completed", done["completed_at"])

    # Reaching the target again is not a new completion.
    again = api.set_batch(set_items("u1", "reach-lvl-20", (30, stamp(day, 0, "12:00:00Z"))))
    assert again["completed"] == []
    row = api.must_get("u1", "reach-lvl-20")
    assert (row["progress"], row["completed_at"]) == (30, done["completed_at"])


def test_value_bounds_accepted(api: Api, day: datetime) -> None:
    api.init("u1")
    result = api.set_batch(
        set_items(
            "u1", "reach-lvl-20", (0, stamp(day, 0, "10:00:00Z")), (2147483647, stamp(day, 0, "11:00:00Z"))
        )
    )
    assert batch_total(result) == 2
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 2147483647


def test_occurred_at_defaults_to_now_for_values(api: Api, server_clock: ServerClock) -> None:
    api.init("u1")
    assert outcome_of(api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 4}])) == "applied"
    # An event an hour before the clock was read is older than now: stale.
    old = api.set_batch(set_items("u1", "reach-lvl-20", (9, iso(server_clock.ago(HOUR)))))
    assert outcome_of(old) == "stale_event"


# --- the session TimeZone changes no result --------------------------------------------------------------


def scenario(api: Api, day: datetime) -> list[Any]:
    """A fixed mixed workload; its full observable result is compared across time zones."""
    api.init("u1")
    api.init("u2")
    results: list[Any] = []
    results.append(
        api.inc_batch(
            inc_items(
                "u1",
                "login-daily",
                stamp(day, 0, "16:30:00Z"),
                stamp(day, 0, "23:30:00Z"),
                stamp(day, 1, "00:30:00Z"),
            )
            + inc_items("u2", "play-3", stamp(day, 0, "07:59:00Z"), stamp(day, 0, "08:01:00Z"))
            + inc_items("u1", "kill-10", stamp(day, 0, "23:59:59Z"), delta=10)
        )
    )
    results.append(
        api.set_batch(
            set_items(
                "u1", "reach-lvl-20", (21, stamp(day, 0, "10:00:00+07:00")), (5, stamp(day, 0, "02:59:00Z"))
            )
        )
    )
    results.append(api.inc("u2", "play-3", occurred_at=stamp(day, 1, "07:00:00Z"))["outcome"])
    results.append(api.inc("u2", "play-3", occurred_at=stamp(day, 0, "23:00:00-08:00"))["outcome"])
    rows = api.user_progress("u1") + api.user_progress("u2")
    ignore = {"assigned_at", "completed_at", "updated_at", "claimed_at", "expires_at"}
    results.append([{k: v for k, v in r.items() if k not in ignore} for r in rows])
    for r in results[:2]:
        r["completed"] = sorted((c["user_id"], c["goal_id"]) for c in r["completed"])
    return results


EXPECTED_SCENARIO_PROGRESS = {
    ("u1", "login-daily"): 2,
    ("u2", "play-3"): 2,
    ("u1", "kill-10"): 10,
    ("u1", "reach-lvl-20"): 21,
}


def test_session_time_zone_changes_no_result(zoned_api: Api, day: datetime) -> None:
    results = scenario(zoned_api, day)
    inc_result, set_result, single_1, single_2, rows = results
    # login-daily: day 0 once (the second day-0 event is already counted), day 1 once; play-3: both
    # events of its day count; kill-10: one.
    assert inc_result["applied"] == 5
    assert inc_result["skipped"] == skipped(already_counted_today=1)
    assert inc_result["completed"] == [("u1", "kill-10")]
    # 10:00+07:00 is 03:00Z, later than 02:59Z: 21 wins.
    assert set_result["applied"] >= 1
    assert batch_total(set_result) == 2
    assert set_result["completed"] == [("u1", "reach-lvl-20")]
    # play-3 is repeatable per UTC day: day 1 at 07:00Z opens a new day (reset, then +1) and
    # day 0 at 23:00-08:00 is day 1 at 07:00Z, the same day (+1).
    assert (single_1, single_2) == ("applied", "applied")
    progress = {(r["user_id"], r["goal_id"]): r["progress"] for r in rows}
    for key, value in EXPECTED_SCENARIO_PROGRESS.items():
        assert progress[key] == value, key
