"""record_events: validation, exactly-once by event id, and routing by event source and stat code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.events.eventhelpers import (
    CONFIG,
    GOALS,
    init,
    login,
    progresses,
    record,
    remembered,
    skipped,
    stat,
    table_state,
)
from tests.serverclock import DAY, HOUR, ServerClock, iso

Conn = psycopg.Connection[Any]


@pytest.fixture
def day(server_clock: ServerClock) -> datetime:
    """00:00 UTC of a day after any the test runs in: the type-daily goal's row moves into it, never stale."""
    return server_clock.future_day


@pytest.fixture
def t0(day: datetime) -> str:
    return iso(day + 10 * HOUR)


@pytest.fixture
def t1(day: datetime) -> str:
    return iso(day + 11 * HOUR)


def at(event: dict[str, Any], occurred_at: str) -> dict[str, Any]:
    """An event of a parameter list (built at import, before any clock is read), dated."""
    return {**event, "occurred_at": occurred_at}


# -- routing ---------------------------------------------------------------------------------------

ROUTING = [
    pytest.param(
        login("e1"),
        {"login-inc": 1, "login-daily": 1, "login-abs": 1, "login-kills": 1},
        {},
        id="login-reaches-every-login-goal-whatever-its-stat-code-and-type",
    ),
    pytest.param(
        stat("e1", "kills", value=57, inc=3),
        {"kills-inc": 3, "kills-daily": 3, "kills-dtype": 3, "kills-abs": 57},
        {"not_assigned": 1},
        id="stat-kills-inc-and-value-absolute-takes-value-others-inc",
    ),
    pytest.param(
        stat("e1", "kills"),
        {"kills-inc": 1, "kills-daily": 1, "kills-dtype": 1},
        {"not_assigned": 1, "type_mismatch": 1},
        id="stat-without-value-is-type-mismatch-on-absolute-inc-defaults-to-1",
    ),
    pytest.param(
        stat("e1", "kills", value=4),
        {"kills-inc": 1, "kills-daily": 1, "kills-dtype": 1, "kills-abs": 4},
        {"not_assigned": 1},
        id="stat-value-only-increments-by-default-inc",
    ),
    pytest.param(
        stat("e1", "level", value=7, inc=2),
        {"level-abs": 7, "level-inc": 2},
        {},
        id="stat-level-reaches-only-level-goals",
    ),
    pytest.param(
        stat("e1", "login", value=9),
        {},
        {},
        id="stat-with-a-login-goals-stat-code-reaches-no-login-goal",
    ),
    pytest.param(
        stat("e1", "deaths", inc=5),
        {},
        {},
        id="stat-code-no-goal-uses-counted-in-events-only",
    ),
]


@pytest.mark.parametrize(("event", "expected", "expected_skips"), ROUTING)
def test_routing(
    events_db: Conn, t0: str, event: dict[str, Any], expected: dict[str, int], expected_skips: dict[str, int]
) -> None:
    init(events_db, "u1")
    result = record(events_db, [at(event, t0)])
    assert progresses(events_db) == expected
    assert result["events"] == 1 and result["duplicate_events"] == 0
    assert skipped(result) == expected_skips
    applied = sum(1 for goal_id in expected if goal_id != "kills-abs" or event.get("value"))
    assert result["applied"] == applied
    # Routed goals only: applied + skipped counts (event, goal) pairs.
    assert result["skipped"]["duplicate_event"] == 0


def test_routing_value_zero_on_absolute_is_applied(events_db: Conn, t0: str) -> None:
    init(events_db, "u1")
    result = record(events_db, [stat("e1", "level", value=0, occurred_at=t0)])
    assert result["applied"] == 2
    assert progresses(events_db) == {"level-inc": 1}


def test_result_shape_for_a_mixed_batch(events_db: Conn, t0: str) -> None:
    init(events_db, "u1", "u2")
    result = record(
        events_db,
        [
            login("e1", "u1", occurred_at=t0),
            stat("e2", "level", "u2", value=25, occurred_at=t0),
            stat("e3", "nothing", "u2"),
            login("e1", "u1", occurred_at=t0),
        ],
    )
    assert result == {
        "events": 4,
        "duplicate_events": 1,
        "applied": 6,
        "skipped": {
            "inactive": 0,
            "not_assigned": 0,
            "claimed": 0,
            "unknown_goal": 0,
            "duplicate_event": 0,
            "already_counted_today": 0,
            "stale_event": 0,
            "type_mismatch": 0,
        },
        "completed": [{"user_id": "u2", "goal_id": "level-abs"}],
    }


def _claim(conn: Conn, user_id: str, goal_id: str) -> None:
    conn.execute(
        "UPDATE challenge.progress SET progress = 1, status = 'claimed', completed_at = now(),"
        " claimed_at = now() WHERE user_id = %s AND goal_id = %s",
        [user_id, goal_id],
    )


GUARDS = [
    pytest.param("not_assigned", id="not-assigned"),
    pytest.param("inactive", id="inactive"),
    pytest.param("claimed", id="claimed"),
]


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize(
    ("event", "goal_id"),
    [
        pytest.param(login("e1"), "login-inc", id="login-increment"),
        pytest.param(login("e1"), "login-abs", id="login-absolute"),
        pytest.param(stat("e1", "kills", inc=2), "kills-daily", id="stat-daily"),
        pytest.param(stat("e1", "kills", value=5), "kills-abs", id="stat-absolute"),
    ],
)
def test_row_guards_apply_per_event_and_goal(
    events_db: Conn, t0: str, guard: str, event: dict[str, Any], goal_id: str
) -> None:
    init(events_db, "u1")
    if guard == "not_assigned":
        events_db.execute("DELETE FROM challenge.progress WHERE user_id = 'u1' AND goal_id = %s", [goal_id])
    elif guard == "inactive":
        events_db.execute("SELECT challenge.set_goal_active('u1', %s, false)", [goal_id])
    else:
        _claim(events_db, "u1", goal_id)
    before = progresses(events_db)
    result = record(events_db, [at(event, t0)])
    after = progresses(events_db)
    assert after.get(goal_id) == before.get(goal_id)
    # kills-extra is never assigned: a kills event always reports it not_assigned.
    unassigned_extra = 1 if event.get("stat_code") == "kills" else 0
    assert result["skipped"][guard] == 1 + (unassigned_extra if guard == "not_assigned" else 0)
    # Every other routed goal moved.
    assert {g for g in after if after[g] != before.get(g)} == {
        g["goalId"]
        for g in GOALS
        if g["goalId"] != goal_id
        and g["defaultAssigned"]
        and g["eventSource"] == event["kind"]
        and (event["kind"] == "login" or g["requirement"]["statCode"] == event["stat_code"])
        and not (g["type"] == "absolute" and event["kind"] == "statistic" and "value" not in event)
    }


def test_once_per_day_goals_count_the_first_event_of_each_utc_day(
    events_db: Conn, day: datetime, t0: str
) -> None:
    init(events_db, "u1")
    next_day = day + DAY
    result = record(
        events_db,
        [
            login("e1", occurred_at=t0),
            # 19:30Z on t0's day: the same UTC day, whatever the offset it is written with.
            login("e2", occurred_at=f"{next_day:%Y-%m-%d}T01:00:00+05:30"),
            login("e3", occurred_at=iso(next_day)),
        ],
    )
    assert progresses(events_db) == {"login-inc": 3, "login-daily": 2, "login-abs": 3, "login-kills": 3}
    assert skipped(result) == {"already_counted_today": 1}
    again = record(events_db, [login("e4", occurred_at=iso(next_day + 8 * HOUR))])
    assert skipped(again) == {"already_counted_today": 1}


def test_absolute_values_latest_occurred_at_wins_and_older_is_stale(
    events_db: Conn, t0: str, t1: str
) -> None:
    init(events_db, "u1")
    result = record(
        events_db,
        [
            stat("e1", "level", value=9, occurred_at=t1),
            stat("e2", "level", value=5, occurred_at=t0),
            stat("e3", "level", value=11, occurred_at=t1),  # a tie: the later event wins
        ],
    )
    assert progresses(events_db)["level-abs"] == 11
    assert result["skipped"]["stale_event"] == 1
    later = record(events_db, [stat("e4", "level", value=3, occurred_at=t0)])
    assert later["skipped"]["stale_event"] == 1
    assert progresses(events_db)["level-abs"] == 11


def test_retired_goals_are_not_reached(events_db: Conn) -> None:
    init(events_db, "u1")
    reduced = {
        "challenges": [{**CONFIG["challenges"][0], "goals": [g for g in GOALS if g["goalId"] != "kills-inc"]}]
    }
    events_db.execute("SELECT challenge.load_config(%s::jsonb)", [Jsonb(reduced)])
    result = record(events_db, [stat("e1", "kills", inc=2)])
    assert "kills-inc" not in progresses(events_db)
    assert result["skipped"]["unknown_goal"] == 0


def test_routed_items_beyond_one_batch_function_call_are_sliced(events_db: Conn, t0: str) -> None:
    # 12,501 logins x 4 login goals = 50,004 routed increments: two calls of increment_progress_batch.
    init(events_db, "u1")
    events = [login(f"e{n}", occurred_at=t0) for n in range(12_501)]
    result = record(events_db, events)
    assert result["applied"] == 3 * 12_501 + 1
    assert skipped(result) == {"already_counted_today": 12_500}
    assert progresses(events_db) == {
        "login-inc": 12_501,
        "login-daily": 1,
        "login-abs": 12_501,
        "login-kills": 12_501,
    }


# -- exactly once ------------------------------------------------------------------------------------


def _mixed_batch(t0: str, t1: str, prefix: str = "e") -> list[dict[str, Any]]:
    return [
        login(f"{prefix}1", "u1", occurred_at=t0),
        stat(f"{prefix}2", "kills", "u1", value=12, inc=2, occurred_at=t0),
        stat(f"{prefix}3", "level", "u2", value=25, occurred_at=t1),
        login(f"{prefix}4", "u2", occurred_at=t1),
        stat(f"{prefix}5", "kills", "u2", inc=7, occurred_at=t1),
    ]


def test_replaying_a_whole_batch_changes_nothing(events_db: Conn, t0: str, t1: str) -> None:
    init(events_db, "u1", "u2")
    first = record(events_db, _mixed_batch(t0, t1))
    assert first["duplicate_events"] == 0 and first["applied"] > 0
    state = table_state(events_db)
    replay = record(events_db, _mixed_batch(t0, t1))
    assert replay["events"] == 5 and replay["duplicate_events"] == 5
    assert replay["applied"] == 0 and skipped(replay) == {} and replay["completed"] == []
    assert table_state(events_db) == state


def test_partially_overlapping_batches_apply_each_event_once(events_db: Conn, t0: str) -> None:
    init(events_db, "u1")
    kills = [stat(f"k{n}", "kills", inc=n, occurred_at=t0) for n in range(1, 7)]
    first = record(events_db, kills[:4])
    second = record(events_db, kills[2:])
    assert (first["duplicate_events"], second["duplicate_events"]) == (0, 2)
    assert progresses(events_db)["kills-inc"] == sum(range(1, 7))


def test_an_id_repeated_in_one_batch_counts_its_first_use_only(events_db: Conn) -> None:
    init(events_db, "u1")
    result = record(
        events_db,
        [stat("k1", "kills", inc=5), stat("k1", "kills", inc=9), stat("k1", "level", value=3)],
    )
    assert result["events"] == 3 and result["duplicate_events"] == 2
    assert progresses(events_db) == {"kills-inc": 5, "kills-daily": 5, "kills-dtype": 5}


def test_event_ids_are_shared_with_the_batch_writes(events_db: Conn) -> None:
    init(events_db, "u1")
    events_db.execute(
        "SELECT challenge.increment_progress_batch(%s::jsonb)",
        [Jsonb([{"user_id": "u1", "goal_id": "kills-inc", "event_id": "x1"}])],
    )
    result = record(events_db, [stat("x1", "kills")])
    assert result["duplicate_events"] == 1
    assert progresses(events_db) == {"kills-inc": 1}


def test_empty_array_is_a_no_op(events_db: Conn) -> None:
    result = record(events_db, [])
    assert result["events"] == 0 and result["applied"] == 0 and result["completed"] == []


# -- pruning: the dedup window -------------------------------------------------------------------------


def test_pruning_keeps_the_window(events_db: Conn, day: datetime, t0: str, t1: str) -> None:
    init(events_db, "u1")
    record(events_db, [login("old", occurred_at=t0), login("new", occurred_at=t1)])
    events_db.execute(
        "UPDATE challenge.processed_events SET processed_at = now() - interval '8 days'"
        " WHERE event_id = 'old'"
    )
    pruned = events_db.execute("SELECT challenge.prune_processed_events('7 days')").fetchone()
    assert pruned == (1,)
    # Inside the window a redelivery is still a duplicate; outside it, it counts again.
    assert record(events_db, [login("new", occurred_at=t1)])["duplicate_events"] == 1
    later = iso(day + 2 * DAY + 10 * HOUR)
    assert record(events_db, [login("old", occurred_at=later)])["duplicate_events"] == 0


# -- validation -----------------------------------------------------------------------------------------

GOOD = {"event_id": "ok", "user_id": "u1", "kind": "login"}
BAD_EVENTS = [
    pytest.param(7, "is a JSON number, not an object", id="not-an-object"),
    pytest.param({"user_id": "u1", "kind": "login"}, "event_id must be", id="missing-event-id"),
    pytest.param({**GOOD, "event_id": ""}, "event_id must be", id="empty-event-id"),
    pytest.param({**GOOD, "event_id": "x" * 101}, "event_id must be", id="long-event-id"),
    pytest.param({**GOOD, "event_id": 5}, "event_id must be", id="numeric-event-id"),
    pytest.param({"event_id": "b", "kind": "login"}, "user_id must be", id="missing-user-id"),
    pytest.param({**GOOD, "goal_id": "kills-inc"}, "unknown key(s) goal_id", id="unknown-key"),
    pytest.param({"event_id": "b", "user_id": "u1"}, "kind must be", id="missing-kind"),
    pytest.param({**GOOD, "kind": "purchase"}, "kind must be", id="bad-kind"),
    pytest.param({**GOOD, "stat_code": "kills"}, "login event carries no", id="login-with-stat-code"),
    pytest.param({**GOOD, "value": 3}, "login event carries no", id="login-with-value"),
    pytest.param({**GOOD, "inc": 3}, "login event carries no", id="login-with-inc"),
    pytest.param({**GOOD, "kind": "statistic"}, "stat_code must be", id="stat-without-stat-code"),
    pytest.param({**GOOD, "kind": "statistic", "stat_code": ""}, "stat_code must be", id="empty-stat-code"),
    pytest.param(stat("b", "kills", value=-1), "value must be", id="negative-value"),
    pytest.param(stat("b", "kills", value=2_147_483_648), "value must be", id="value-too-big"),
    pytest.param(stat("b", "kills", value=1.5), "value must be", id="fractional-value"),
    pytest.param(stat("b", "kills", value="3"), "value must be", id="string-value"),
    pytest.param(stat("b", "kills", inc=0), "inc must be", id="zero-inc"),
    pytest.param(stat("b", "kills", inc=1_000_001), "inc must be", id="inc-too-big"),
    pytest.param(stat("b", "kills", inc=True), "inc must be", id="boolean-inc"),
    pytest.param(
        login("b", occurred_at="2026-11-27T10:00:00"),  # invalid-date: no zone
        "occurred_at must be",
        id="zone-less-time",
    ),
    pytest.param(
        login("b", occurred_at="2026-11-27"),  # invalid-date: no time
        "occurred_at must be",
        id="date-only",
    ),
    pytest.param(login("b", occurred_at=1_700_000_000), "occurred_at must be", id="epoch-number"),
    pytest.param(
        login("b", occurred_at="2026-02-30T10:00:00Z"),  # invalid-date: no February 30th
        "not a valid timestamp",
        id="impossible-date",
    ),
]


@pytest.mark.parametrize(("bad", "message"), BAD_EVENTS)
def test_a_malformed_event_raises_ch002_and_changes_nothing(
    events_db: Conn, t0: str, bad: Any, message: str
) -> None:
    init(events_db, "u1")
    state = table_state(events_db)
    with pytest.raises(psycopg.Error) as caught:
        record(events_db, [login("first", occurred_at=t0), bad])
    assert caught.value.sqlstate == "CH002"
    assert caught.value.diag.message_detail is not None
    assert caught.value.diag.message_detail.startswith("item 1: ")
    assert message in caught.value.diag.message_detail
    assert table_state(events_db) == state and remembered(events_db) == 0


@pytest.mark.parametrize(
    "payload", [pytest.param({"event_id": "a"}, id="object"), pytest.param(None, id="null")]
)
def test_a_payload_that_is_not_an_array_raises_ch002(events_db: Conn, payload: Any) -> None:
    with pytest.raises(psycopg.Error) as caught:
        record(events_db, payload)
    assert caught.value.sqlstate == "CH002"


def test_more_than_50000_events_raise_ch002(events_db: Conn) -> None:
    with pytest.raises(psycopg.Error) as caught:
        events_db.execute(
            "SELECT challenge.record_events((SELECT jsonb_agg(jsonb_build_object("
            "'event_id', 'e' || n, 'user_id', 'u1', 'kind', 'login')) FROM generate_series(1, 50001) AS n))"
        )
    assert caught.value.sqlstate == "CH002"
    assert remembered(events_db) == 0


def test_integral_floats_and_nulls_are_accepted(events_db: Conn) -> None:
    init(events_db, "u1")
    result = record(
        events_db,
        [stat("e1", "level", value=7.0, inc=2.0, occurred_at=None), login("e2", stat_code=None, value=None)],
    )
    assert result["applied"] == 6
    assert progresses(events_db)["level-abs"] == 7


def test_a_value_without_inc_sets_a_relative_baseline_at_the_value(db: Conn) -> None:
    """A statistic event's inc defaults to 1 for increments, but a value takes it only when the event
    carries one: the first value of a relative goal without inc counts from itself (progress 0)."""
    relative = {
        "goalId": "wins",
        "name": "wins",
        "type": "absolute",
        "eventSource": "statistic",
        "defaultAssigned": True,
        "requirement": {"statCode": "wins", "operator": ">=", "targetValue": 5, "progressMode": "relative"},
        "reward": {"type": "ITEM", "rewardId": "r", "quantity": 1},
    }
    db.execute(
        "SELECT challenge.load_config(%s::jsonb)",
        [Jsonb({"challenges": [{"challengeId": "rel", "name": "rel", "goals": [relative]}]})],
    )
    init(db, "u1", "u2")
    record(db, [stat("a1", "wins", "u1", value=57), stat("b1", "wins", "u2", value=57, inc=2)])
    assert progresses(db, "u1") == {}
    assert progresses(db, "u2") == {"wins": 2}
    record(db, [stat("a2", "wins", "u1", value=60)])
    assert progresses(db, "u1") == {"wins": 3}
