"""Rotation periods (issue 4): UTC boundaries, lazy onExpiry on writes, reads as of now, relative goals,
repeatable daily goals, claims across periods, and get_rotation_status.

Every scenario is driven by explicit occurred_at values (never by sleeping), taken from the server's clock:
"now", or the days of a week later than any the test can run in (``wk``: Monday of the week after next).
Where a scenario needs "the period is over now", the test moves the row's period_start back
(let_period_pass), as time passing would.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tests.serverclock import DAY, HOUR, ServerClock, iso
from tests.sql.sqlhelpers import rotation


def goal(goal_id: str, target: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "goalId": goal_id,
        "name": goal_id,
        "type": "increment",
        "eventSource": "statistic",
        "defaultAssigned": True,
        "requirement": {"statCode": "kills", "operator": ">=", "targetValue": target},
        "reward": {"type": "ITEM", "rewardId": "chest", "quantity": 1},
    }
    body.update(extra)
    return body


CONFIG = {
    "challenges": [
        {
            "challengeId": "seasons",
            "name": "Seasons",
            "goals": [
                goal("weekly-kills", 5, rotation=rotation("weekly")),
                goal("weekly-carry", 5, rotation=rotation("weekly", reset=False)),
                goal("daily-wins", 2, rotation=rotation("daily", reselect=True)),
                goal("monthly-kills", 3, rotation=rotation("monthly")),
                goal("play-daily", 3, type="daily"),
                goal(
                    "weekly-level",
                    10,
                    type="absolute",
                    requirement={
                        "statCode": "level",
                        "operator": ">=",
                        "targetValue": 10,
                        "progressMode": "relative",
                    },
                    rotation=rotation("weekly"),
                ),
                goal("lifetime-kills", 100),
            ],
        },
        {
            "challengeId": "plain",
            "name": "Plain",
            "goals": [goal("plain-kills", 10)],
        },
    ]
}


@pytest.fixture
def rot(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    db.execute("SELECT challenge.load_config(%s)", [Jsonb(CONFIG)])
    db.execute("SELECT challenge.initialize_player('u1')")
    return db


@pytest.fixture
def wk(server_clock: ServerClock) -> datetime:
    """Monday 00:00 UTC of a week after any the test runs in: the rows created now move into it."""
    return server_clock.future_week


@pytest.fixture
def now(server_clock: ServerClock) -> datetime:
    """The server's now (the rows' current period is the one holding it)."""
    return server_clock.now


def on(monday: datetime, weekday: int, hour: float = 10) -> str:
    """An occurred_at: ``hour`` o'clock UTC on day ``weekday`` (0 = Monday; 7 = the next Monday) of a week."""
    return iso(monday + weekday * DAY + hour * HOUR)


def one(conn: psycopg.Connection[Any], sql: str, *params: Any) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(sql, params).fetchone()
    assert row is not None
    return row


def inc(conn: psycopg.Connection[Any], goal_id: str, at: str, delta: int = 1) -> dict[str, Any]:
    return one(
        conn,
        "SELECT * FROM challenge.increment_progress('u1', %s, %s, NULL, %s::timestamptz)",
        goal_id,
        delta,
        at,
    )


def inc_batch(conn: psycopg.Connection[Any], *items: tuple[str, str, int]) -> dict[str, Any]:
    payload = [{"user_id": "u1", "goal_id": g, "occurred_at": at, "delta": d} for g, at, d in items]
    result: dict[str, Any] = one(conn, "SELECT challenge.increment_progress_batch(%s) AS r", Jsonb(payload))[
        "r"
    ]
    return result


def set_batch(conn: psycopg.Connection[Any], *items: dict[str, Any]) -> dict[str, Any]:
    payload = [{"user_id": "u1", **item} for item in items]
    result: dict[str, Any] = one(conn, "SELECT challenge.set_progress_batch(%s) AS r", Jsonb(payload))["r"]
    return result


def stored(conn: psycopg.Connection[Any], goal_id: str) -> dict[str, Any]:
    """The stored row (private table), not the as-of-now view."""
    return one(conn, "SELECT * FROM challenge.progress WHERE user_id = 'u1' AND goal_id = %s", goal_id)


def shown(conn: psycopg.Connection[Any], goal_id: str) -> dict[str, Any]:
    return one(conn, "SELECT * FROM challenge.get_progress('u1', %s)", goal_id)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def let_period_pass(conn: psycopg.Connection[Any], goal_id: str, by: str = "7 days") -> None:
    """Time passing, simulated: the row now belongs to a period that ended (private table, test setup)."""
    conn.execute(
        "UPDATE challenge.progress SET period_start = period_start - %s::interval,"
        " expires_at = expires_at - %s::interval WHERE user_id = 'u1' AND goal_id = %s",
        [by, by, goal_id],
    )


# --- period boundaries -------------------------------------------------------------------------------------

BOUNDARIES = [  # pure: _period_start and _period_end are functions of their arguments, not of now()
    # schedule, instant, period start, period end
    ("daily", "2026-11-27T23:59:59.999999", "2026-11-27T00:00:00", "2026-11-28T00:00:00"),
    ("daily", "2026-11-28T00:00:00", "2026-11-28T00:00:00", "2026-11-29T00:00:00"),
    ("weekly", "2026-11-29T23:00:00", "2026-11-23T00:00:00", "2026-11-30T00:00:00"),  # Sunday
    ("weekly", "2026-11-30T00:00:00", "2026-11-30T00:00:00", "2026-12-07T00:00:00"),  # Monday
    ("weekly", "2026-12-03T12:00:00", "2026-11-30T00:00:00", "2026-12-07T00:00:00"),  # spans two months
    ("weekly", "2027-01-01T00:00:00", "2026-12-28T00:00:00", "2027-01-04T00:00:00"),  # spans two years
    ("monthly", "2028-02-29T23:59:59", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),  # leap year
    ("monthly", "2027-02-28T12:00:00", "2027-02-01T00:00:00", "2027-03-01T00:00:00"),
    ("monthly", "2026-12-31T23:59:59", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Jakarta", "America/Los_Angeles"])
@pytest.mark.parametrize(
    ("schedule", "at", "start", "end"), BOUNDARIES, ids=[f"{b[0]}-{b[1]}" for b in BOUNDARIES]
)
def test_period_boundaries_are_utc(
    db: psycopg.Connection[Any], zone: str, schedule: str, at: str, start: str, end: str
) -> None:
    db.execute(f"SET TIME ZONE '{zone}'")
    row = one(
        db,
        "SELECT challenge._period_start(%s, %s) AS s, challenge._period_end(%s, %s) AS e",
        schedule,
        utc(at),
        schedule,
        utc(at),
    )
    assert (row["s"], row["e"]) == (utc(start), utc(end))


def test_view_and_functions_agree_on_the_current_period(rot: psycopg.Connection[Any]) -> None:
    rows = rot.execute(
        "SELECT v.expires_at = challenge._period_end(g.period_schedule, now())"
        " FROM challenge.goal_progress AS v JOIN challenge.goals AS g ON g.goal_id = v.goal_id"
        " WHERE v.user_id = 'u1' AND g.period_schedule IS NOT NULL"
    ).fetchall()
    assert rows and all(r[0] for r in rows)


# --- writes rotate lazily ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["single", "batch"])
def test_first_write_of_a_new_period_resets(rot: psycopg.Connection[Any], wk: datetime, how: str) -> None:
    def write(at: str, delta: int) -> None:
        if how == "single":
            inc(rot, "weekly-kills", at, delta)
        else:
            inc_batch(rot, ("weekly-kills", at, delta))

    write(on(wk, 0), 3)  # Monday of week wk
    write(iso(wk + 7 * DAY - timedelta(seconds=1)), 1)  # Sunday 23:59:59, same week
    assert stored(rot, "weekly-kills")["progress"] == 4
    write(iso(wk + 7 * DAY), 2)  # the next Monday 00:00: onExpiry resets, then +2
    row = stored(rot, "weekly-kills")
    assert (row["progress"], row["status"]) == (2, "in_progress")
    assert row["period_start"] == wk + 7 * DAY
    assert row["expires_at"] == wk + 14 * DAY


def test_reset_clears_completion_and_completes_again(rot: psycopg.Connection[Any], wk: datetime) -> None:
    first = inc(rot, "weekly-kills", on(wk, 0), 5)
    assert (first["status"], first["newly_completed"]) == ("completed", True)
    completed_at = stored(rot, "weekly-kills")["completed_at"]
    assert completed_at is not None
    assert inc(rot, "weekly-kills", on(wk, 1))["newly_completed"] is False
    again = inc(rot, "weekly-kills", on(wk, 8), 5)
    assert (again["progress"], again["status"], again["newly_completed"]) == (5, "completed", True)
    assert stored(rot, "weekly-kills")["completed_at"] != completed_at


def test_carry_over_keeps_progress_and_moves_the_period(rot: psycopg.Connection[Any], wk: datetime) -> None:
    inc(rot, "weekly-carry", on(wk, 0), 5)
    row = inc(rot, "weekly-carry", on(wk, 8), 1)
    assert (row["progress"], row["status"]) == (6, "completed")
    stored_row = stored(rot, "weekly-carry")
    assert stored_row["period_start"] == wk + 7 * DAY
    assert stored_row["completed_at"] is not None  # the reference's B-4 left it NULL


@pytest.mark.parametrize("how", ["single", "batch"])
def test_event_of_an_earlier_period_is_stale(rot: psycopg.Connection[Any], wk: datetime, how: str) -> None:
    inc(rot, "weekly-kills", on(wk, 8), 2)  # Tuesday of the week after wk
    if how == "single":
        assert inc(rot, "weekly-kills", on(wk, 5), 3)["outcome"] == "stale_event"  # Saturday of wk
    else:
        result = inc_batch(rot, ("weekly-kills", on(wk, 5), 3))
        assert result["skipped"]["stale_event"] == 1
    assert stored(rot, "weekly-kills")["progress"] == 2


def test_batch_spanning_two_periods_keeps_the_newest(rot: psycopg.Connection[Any], wk: datetime) -> None:
    result = inc_batch(
        rot,
        ("weekly-kills", on(wk, 8), 1),  # the week after wk
        ("weekly-kills", on(wk, 2), 4),  # week wk: superseded in this batch
        ("weekly-kills", on(wk, 9), 2),
    )
    assert result["applied"] == 2
    assert result["skipped"]["stale_event"] == 1
    row = stored(rot, "weekly-kills")
    assert (row["progress"], row["period_start"]) == (3, wk + 7 * DAY)


def test_goals_without_periods_never_rotate(rot: psycopg.Connection[Any], wk: datetime) -> None:
    inc(rot, "lifetime-kills", on(wk, 1), 3)
    inc(rot, "lifetime-kills", on(wk, 7 * 75), 3)  # 75 weeks later: other weeks, months, a year
    row = stored(rot, "lifetime-kills")
    assert (row["progress"], row["period_start"], row["expires_at"]) == (6, None, None)


# --- claimed rows and re-selection ------------------------------------------------------------------------


def claim(conn: psycopg.Connection[Any], goal_id: str, claim_id: str) -> dict[str, Any]:
    return one(conn, "SELECT * FROM challenge.claim_goal('u1', %s, %s)", goal_id, claim_id)


def test_claimed_row_with_reselection_starts_over_next_period(
    rot: psycopg.Connection[Any], now: datetime
) -> None:
    inc(rot, "daily-wins", iso(now), 2)
    claim(rot, "daily-wins", "c-1")
    assert inc(rot, "daily-wins", iso(now))["outcome"] == "claimed"
    tomorrow = now + DAY
    row = inc(rot, "daily-wins", iso(tomorrow))
    assert (row["outcome"], row["progress"], row["status"]) == ("applied", 1, "in_progress")
    assert stored(rot, "daily-wins")["claimed_at"] is None


def test_claimed_row_without_reselection_stays_claimed(rot: psycopg.Connection[Any], now: datetime) -> None:
    inc(rot, "weekly-kills", iso(now), 5)
    claim(rot, "weekly-kills", "c-1")
    later = iso(now + 8 * DAY)
    assert inc(rot, "weekly-kills", later)["outcome"] == "claimed"
    assert inc_batch(rot, ("weekly-kills", later, 1))["skipped"]["claimed"] == 1
    assert stored(rot, "weekly-kills")["status"] == "claimed"


# --- type daily: repeatable, target-aware, claimable once per UTC day -------------------------------------


def test_daily_type_counts_every_event_and_resets_each_day(
    rot: psycopg.Connection[Any], wk: datetime
) -> None:
    for hour in (8, 9, 10):
        inc(rot, "play-daily", on(wk, 0, hour))
    row = stored(rot, "play-daily")
    assert (row["progress"], row["status"]) == (
        3,
        "completed",
    )  # the target counts (the reference ignored it)
    next_day = inc(rot, "play-daily", on(wk, 1, 0.5))
    assert (next_day["progress"], next_day["status"]) == (1, "in_progress")


def test_daily_type_is_claimable_once_per_day(rot: psycopg.Connection[Any], now: datetime) -> None:
    inc(rot, "play-daily", iso(now), 3)
    assert claim(rot, "play-daily", "day-1")["replayed"] is False
    with pytest.raises(psycopg.Error) as same_day:
        claim(rot, "play-daily", "day-1b")
    assert same_day.value.sqlstate == "CH022"
    # The next day: the claimed row is selected again and starts over.
    rot.execute(
        "UPDATE challenge.progress SET period_start = period_start - interval '1 day'"
        " WHERE user_id = 'u1' AND goal_id = 'play-daily'"
    )
    inc(rot, "play-daily", iso(now), 3)
    assert claim(rot, "play-daily", "day-2")["replayed"] is False
    grants = rot.execute(
        "SELECT count(*) FROM challenge.reward_grants WHERE user_id = 'u1' AND goal_id = 'play-daily'"
    ).fetchone()
    assert grants == (2,)


# --- claims across periods ---------------------------------------------------------------------------------


def test_completion_of_a_past_period_cannot_be_claimed(rot: psycopg.Connection[Any], now: datetime) -> None:
    inc(rot, "weekly-kills", iso(now), 5)
    let_period_pass(rot, "weekly-kills")  # completed in a week that is over
    with pytest.raises(psycopg.Error) as excinfo:
        claim(rot, "weekly-kills", "c-old")
    assert excinfo.value.sqlstate == "CH024"
    assert excinfo.value.diag.message_detail is not None
    assert stored(rot, "weekly-kills")["status"] == "completed"  # nothing changed


def test_carried_over_completion_stays_claimable(rot: psycopg.Connection[Any], now: datetime) -> None:
    """G-10: the reference refused rotated rows even when their progress carries over."""
    inc(rot, "weekly-carry", iso(now), 5)
    let_period_pass(rot, "weekly-carry")
    assert claim(rot, "weekly-carry", "c-carry")["replayed"] is False
    row = stored(rot, "weekly-carry")
    assert row["status"] == "claimed"
    assert row["period_start"] == one(rot, "SELECT challenge._period_start('weekly', now()) AS p")["p"]


# --- reads as of now, without writing ---------------------------------------------------------------------


def test_reads_show_a_past_period_reset_without_writing(rot: psycopg.Connection[Any], now: datetime) -> None:
    inc(rot, "weekly-kills", iso(now), 5)
    inc(rot, "weekly-carry", iso(now), 4)
    let_period_pass(rot, "weekly-kills")
    let_period_pass(rot, "weekly-carry")
    before = stored(rot, "weekly-kills")
    view = shown(rot, "weekly-kills")
    assert (view["progress"], view["status"], view["completed_at"]) == (0, "not_started", None)
    assert view["expires_at"] == one(rot, "SELECT challenge._period_end('weekly', now()) AS e")["e"]
    carried = shown(rot, "weekly-carry")
    assert (carried["progress"], carried["status"]) == (4, "in_progress")
    assert stored(rot, "weekly-kills") == before
    listed = {
        r[0]: r[1] for r in rot.execute("SELECT goal_id, progress FROM challenge.get_user_progress('u1')")
    }
    assert listed["weekly-kills"] == 0


# --- expires_at on every path -----------------------------------------------------------------------------


def test_assignment_paths_set_the_current_period(rot: psycopg.Connection[Any]) -> None:
    end = one(rot, "SELECT challenge._period_end('weekly', now()) AS e")["e"]
    start = one(rot, "SELECT challenge._period_start('weekly', now()) AS s")["s"]
    assert (stored(rot, "weekly-kills")["expires_at"], stored(rot, "weekly-kills")["period_start"]) == (
        end,
        start,
    )
    rot.execute("SELECT challenge.set_goal_active('u2', 'weekly-kills', true)")
    row = one(rot, "SELECT * FROM challenge.progress WHERE user_id = 'u2' AND goal_id = 'weekly-kills'")
    assert row["expires_at"] == end
    rot.execute("SELECT * FROM challenge.select_goals('u3', 'seasons', ARRAY['weekly-kills', 'daily-wins'])")
    row = one(rot, "SELECT * FROM challenge.progress WHERE user_id = 'u3' AND goal_id = 'weekly-kills'")
    assert row["expires_at"] == end
    plain = one(
        rot, "SELECT expires_at FROM challenge.progress WHERE user_id = 'u1' AND goal_id = 'plain-kills'"
    )
    assert plain["expires_at"] is None


def test_activation_in_a_new_period_applies_on_expiry(rot: psycopg.Connection[Any], now: datetime) -> None:
    inc(rot, "weekly-kills", iso(now), 3)
    let_period_pass(rot, "weekly-kills")
    rot.execute("SELECT challenge.set_goal_active('u1', 'weekly-kills', false)")
    rot.execute("SELECT challenge.set_goal_active('u1', 'weekly-kills', true)")
    row = stored(rot, "weekly-kills")
    assert (row["progress"], row["status"]) == (0, "not_started")
    assert row["period_start"] == one(rot, "SELECT challenge._period_start('weekly', now()) AS s")["s"]


# --- relative progress (win 5 this week from a lifetime stat) ---------------------------------------------


def test_relative_goal_counts_from_the_first_event_of_the_period(
    rot: psycopg.Connection[Any], wk: datetime
) -> None:
    first = set_batch(rot, {"goal_id": "weekly-level", "value": 108, "inc": 3, "occurred_at": on(wk, 0)})
    assert first["applied"] == 1
    row = stored(rot, "weekly-level")
    assert (row["baseline"], row["progress"]) == (105, 3)
    set_batch(rot, {"goal_id": "weekly-level", "value": 115, "occurred_at": on(wk, 1)})
    row = stored(rot, "weekly-level")
    assert (row["progress"], row["status"]) == (10, "completed")
    # Next week: a new baseline from that week's first event.
    set_batch(rot, {"goal_id": "weekly-level", "value": 120, "inc": 2, "occurred_at": on(wk, 7)})
    row = stored(rot, "weekly-level")
    assert (row["baseline"], row["progress"], row["status"]) == (118, 2, "in_progress")


def test_reference_bug_b3_relative_reset_does_not_leak_the_old_baseline(
    rot: psycopg.Connection[Any], now: datetime
) -> None:
    """B-3: a reset persisted by initialize kept the old baseline, so the next event completed at once."""
    set_batch(rot, {"goal_id": "weekly-level", "value": 150, "inc": 0, "occurred_at": iso(now)})
    set_batch(rot, {"goal_id": "weekly-level", "value": 160, "occurred_at": iso(now)})
    assert stored(rot, "weekly-level")["status"] == "completed"
    let_period_pass(rot, "weekly-level")
    rot.execute("SELECT challenge.initialize_player('u1')")  # a read of the rotated row: nothing written
    set_batch(rot, {"goal_id": "weekly-level", "value": 163, "inc": 3, "occurred_at": iso(now)})
    row = stored(rot, "weekly-level")
    assert (row["progress"], row["status"], row["baseline"]) == (3, "in_progress", 160)


# --- rotation status ---------------------------------------------------------------------------------------


def test_rotation_status(rot: psycopg.Connection[Any]) -> None:
    status = one(rot, "SELECT * FROM challenge.get_rotation_status('seasons')")
    assert (status["enabled"], status["goal_id"], status["schedule"]) == (True, "weekly-kills", "weekly")
    assert status["period_start"] == one(rot, "SELECT challenge._period_start('weekly', now()) AS s")["s"]
    assert status["period_end"] == status["next_period_start"]
    assert status["next_period_end"] == status["period_end"] + timedelta(days=7)
    assert 0 <= status["seconds_left"] <= 7 * 24 * 3600
    plain = one(rot, "SELECT * FROM challenge.get_rotation_status('plain')")
    assert (plain["enabled"], plain["period_start"], plain["seconds_left"]) == (False, None, None)
    with pytest.raises(psycopg.Error) as excinfo:
        rot.execute("SELECT * FROM challenge.get_rotation_status('nope')")
    assert excinfo.value.sqlstate == "CH011"
