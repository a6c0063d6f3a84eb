"""The ledger rows of rotation: writes in later periods (rotated increments and values), a claimed daily goal
starting over, and the 'rotate' rows of assignment calls on a row whose period is over.
"""

from __future__ import annotations

import pytest

from tests.serverclock import DAY, ServerClock
from tests.sql.ledgerhelpers import (
    LedgerApi,
    Week,
    assert_chains,
    change,
    changes,
    utc,
)


def test_a_write_in_a_later_period_records_the_rotation(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    mark = la.mark()
    la.inc("u1", "weekly", 3, occurred_at=wk.mon)  # out of the current week into week wk
    la.inc("u1", "weekly", 1, occurred_at=wk.wed)  # same week
    la.inc_batch([{"user_id": "u1", "goal_id": "weekly", "delta": 4, "occurred_at": wk.next_tue}])  # resets
    la.inc("u1", "weekly", 1, occurred_at=wk.at(15, 0))  # a week later still: resets again
    week1, week2, week3 = wk.start, wk.start + 7 * DAY, wk.start + 14 * DAY
    assert changes(la, "u1", "weekly", mark) == [
        change(
            "increment",
            (0, "not_started"),
            (3, "in_progress"),
            rotated=True,
            period_start=week1,
            occurred_at=utc(wk.mon),
        ),
        change(
            "increment", (3, "in_progress"), (4, "in_progress"), period_start=week1, occurred_at=utc(wk.wed)
        ),
        change(
            "increment",
            (4, "in_progress"),
            (4, "in_progress"),
            rotated=True,
            period_start=week2,
            occurred_at=utc(wk.next_tue),
        ),
        change(
            "increment",
            (4, "in_progress"),
            (1, "in_progress"),
            rotated=True,
            period_start=week3,
            occurred_at=utc(wk.at(15, 0)),
        ),
    ]
    assert_chains(la)


def test_absolute_values_in_later_periods_record_the_rotation(la: LedgerApi, wk: Week) -> None:
    la.set_active("u1", "weekly-level", True)
    mark = la.mark()
    for value, at in ((3, wk.mon), (5, wk.wed), (2, wk.next_tue)):
        assert (
            la.set_batch([{"user_id": "u1", "goal_id": "weekly-level", "value": value, "occurred_at": at}])[
                "applied"
            ]
            == 1
        )
    week1, week2 = wk.start, wk.start + 7 * DAY
    assert changes(la, "u1", "weekly-level", mark) == [
        change(
            "set",
            (0, "not_started"),
            (3, "in_progress"),
            rotated=True,
            period_start=week1,
            occurred_at=utc(wk.mon),
        ),
        change("set", (3, "in_progress"), (5, "in_progress"), period_start=week1, occurred_at=utc(wk.wed)),
        change(
            "set",
            (5, "in_progress"),
            (2, "in_progress"),
            rotated=True,
            period_start=week2,
            occurred_at=utc(wk.next_tue),
        ),
    ]
    assert_chains(la)


@pytest.mark.parametrize("how", ["single", "batch"])
def test_a_claimed_daily_goal_starts_over_with_a_rotated_increment(
    la: LedgerApi, server_clock: ServerClock, how: str
) -> None:
    la.init("u1")
    today = server_clock.now
    la.inc("u1", "daily-wins", 2, occurred_at=today)
    la.claim("u1", "daily-wins", "c-1")
    mark = la.mark()
    if how == "single":
        assert la.inc("u1", "daily-wins", 1, occurred_at=today + DAY)["outcome"] == "applied"
    else:
        item = {"user_id": "u1", "goal_id": "daily-wins", "occurred_at": (today + DAY).isoformat()}
        assert la.inc_batch([item])["applied"] == 1
    tomorrow = la.period_start("daily") + DAY
    assert changes(la, "u1", "daily-wins", mark) == [
        change(
            "increment",
            (2, "claimed"),
            (1, "in_progress"),
            rotated=True,
            period_start=tomorrow,
            occurred_at=today + DAY,
        )
    ]
    assert_chains(la)


def test_an_assignment_call_in_a_new_period_records_a_rotate_row(la: LedgerApi) -> None:
    """set_goal_active on an active row is a no-op, but the row's period is over: only 'rotate' is logged."""
    la.init("u1")
    la.inc("u1", "weekly", 3)
    la.let_period_pass("u1", "weekly")
    mark = la.mark()
    la.set_active("u1", "weekly", True)
    week = la.period_start("weekly")
    assert changes(la, "u1", "weekly", mark) == [
        change("rotate", (3, "in_progress"), (0, "not_started"), rotated=True, period_start=week)
    ]
    la.let_period_pass("u1", "weekly")
    mark = la.mark()
    la.select("u1", "main", ["weekly"])
    assert [r["operation"] for r in la.ledger("u1", after=mark)] == ["rotate"]
    assert_chains(la)


def test_deactivation_in_a_new_period_records_unassign_then_rotate(la: LedgerApi) -> None:
    la.init("u1")
    la.inc("u1", "carry", 2)
    la.let_period_pass("u1", "carry")
    mark = la.mark()
    la.set_active("u1", "carry", False)
    week = la.period_start("weekly")
    assert changes(la, "u1", "carry", mark) == [
        change("unassign", (2, "in_progress"), (2, "in_progress"), period_start=week - 7 * DAY),
        change("rotate", (2, "in_progress"), (2, "in_progress"), rotated=True, period_start=week),
    ]
