"""challenge.initialize_player and challenge.set_goal_active (docs/api.md section 2)."""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.sqlhelpers import (
    DEFAULT_GOALS,
    GOAL_PROGRESS_COLUMNS,
    Api,
    assert_sqlstate,
    config,
    goal,
)

# --- initialize_player ---------------------------------------------------------------------------------


def test_initialize_assigns_default_goals_active_not_started(api: Api) -> None:
    rows = api.init("u1")
    assert {r["goal_id"] for r in rows} == DEFAULT_GOALS
    assert len(rows) == len(DEFAULT_GOALS)
    for r in rows:
        assert list(r) == GOAL_PROGRESS_COLUMNS
        assert r["user_id"] == "u1"
        assert r["namespace"] == "default"
        assert (r["is_active"], r["status"], r["progress"]) == (True, "not_started", 0)
        assert r["assigned_at"] is not None
        assert (r["completed_at"], r["claimed_at"]) == (None, None)
    targets = {r["goal_id"]: (r["challenge_id"], r["target"]) for r in rows}
    assert targets["kill-10"] == ("winter", 10)
    assert targets["spring-login"] == ("spring", 1)
    # The rows are really there.
    assert api.must_get("u1", "play-3")["is_active"] is True


def test_initialize_with_namespace(api: Api) -> None:
    rows = api.init("u1", "eu-1")
    assert {r["namespace"] for r in rows} == {"eu-1"}
    assert api.must_get("u1", "kill-10")["namespace"] == "eu-1"


def test_initialize_does_not_assign_non_default_goals(api: Api) -> None:
    api.init("u1")
    assert api.get("u1", "not-default") is None
    assert api.get("u1", "spring-boss") is None


def test_initialize_is_idempotent(api: Api) -> None:
    first = api.init("u1")
    api.inc("u1", "kill-10", 4)
    second = api.init("u1")
    assert sorted(r["goal_id"] for r in second) == sorted(r["goal_id"] for r in first)
    by_goal = {r["goal_id"]: r for r in second}
    assert by_goal["kill-10"]["progress"] == 4
    assert by_goal["kill-10"]["status"] == "in_progress"
    for r in first:
        assert by_goal[r["goal_id"]]["assigned_at"] == r["assigned_at"]
    assert api.scalar("SELECT count(*) FROM challenge.progress WHERE user_id = 'u1'") == len(DEFAULT_GOALS)


def test_initialize_does_not_reactivate_a_deactivated_goal(api: Api) -> None:
    api.init("u1")
    api.set_active("u1", "kill-10", False)
    rows = api.init("u1")
    assert "kill-10" not in {r["goal_id"] for r in rows}
    assert api.must_get("u1", "kill-10")["is_active"] is False


def test_initialize_does_not_activate_a_default_goal_created_inactive(api: Api) -> None:
    api.set_active("u1", "kill-10", False)  # row created inactive before the first initialize
    rows = api.init("u1")
    assert "kill-10" not in {r["goal_id"] for r in rows}
    assert api.must_get("u1", "kill-10")["is_active"] is False
    assert {r["goal_id"] for r in rows} == DEFAULT_GOALS - {"kill-10"}


def test_initialize_returns_every_active_goal_including_non_default(api: Api) -> None:
    api.set_active("u1", "not-default", True)
    rows = api.init("u1")
    assert {r["goal_id"] for r in rows} == DEFAULT_GOALS | {"not-default"}


def test_default_goal_added_later_reaches_existing_player(api: Api) -> None:
    api.init("u1")
    doc = config()
    doc["challenges"][0]["goals"].append(goal("late-default", default=True))
    doc["challenges"][0]["goals"].append(goal("late-optional", default=False))
    api.load(doc)
    rows = api.init("u1")
    assert {r["goal_id"] for r in rows} == DEFAULT_GOALS | {"late-default"}
    late = api.must_get("u1", "late-default")
    assert (late["is_active"], late["status"], late["progress"]) == (True, "not_started", 0)
    assert api.get("u1", "late-optional") is None


def test_initialize_players_are_independent(api: Api) -> None:
    api.init("u1")
    api.set_active("u1", "kill-10", False)
    rows = api.init("u2")
    assert {r["goal_id"] for r in rows} == DEFAULT_GOALS
    assert {r["user_id"] for r in rows} == {"u2"}


# --- set_goal_active -----------------------------------------------------------------------------------


def test_set_active_creates_missing_row_active(api: Api) -> None:
    with api.conn.transaction():
        now = api.now()
        row = api.set_active("u1", "not-default", True)
    assert list(row) == GOAL_PROGRESS_COLUMNS
    assert (row["user_id"], row["goal_id"], row["challenge_id"], row["target"]) == (
        "u1",
        "not-default",
        "winter",
        5,
    )
    assert (row["is_active"], row["status"], row["progress"]) == (True, "not_started", 0)
    assert row["namespace"] == "default"
    assert row["assigned_at"] == now
    assert (row["completed_at"], row["claimed_at"]) == (None, None)
    assert api.must_get("u1", "not-default") == row


def test_set_inactive_creates_missing_row_inactive_unassigned(api: Api) -> None:
    row = api.set_active("u1", "not-default", False)
    assert (row["is_active"], row["status"], row["progress"]) == (False, "not_started", 0)
    assert row["assigned_at"] is None
    assert api.must_get("u1", "not-default")["is_active"] is False


def test_set_active_with_namespace(api: Api) -> None:
    assert api.set_active("u1", "not-default", True, "asia")["namespace"] == "asia"


def test_activating_sets_assigned_at_now(api: Api) -> None:
    first = api.set_active("u1", "not-default", True)
    api.set_active("u1", "not-default", False)
    with api.conn.transaction():
        now = api.now()
        again = api.set_active("u1", "not-default", True)
    assert again["assigned_at"] == now
    assert again["assigned_at"] > first["assigned_at"]
    assert again["is_active"] is True


def test_deactivating_keeps_progress_status_and_assigned_at(api: Api) -> None:
    api.init("u1")
    api.inc("u1", "kill-10", 4)
    before = api.must_get("u1", "kill-10")
    row = api.set_active("u1", "kill-10", False)
    assert row["is_active"] is False
    assert (row["progress"], row["status"], row["assigned_at"]) == (4, "in_progress", before["assigned_at"])


def test_deactivating_a_completed_row_keeps_it_completed(api: Api) -> None:
    api.init("u1")
    api.inc("u1", "kill-10", 10)
    before = api.must_get("u1", "kill-10")
    row = api.set_active("u1", "kill-10", False)
    assert (row["progress"], row["status"], row["completed_at"]) == (10, "completed", before["completed_at"])


def test_reactivating_keeps_progress(api: Api) -> None:
    api.init("u1")
    api.inc("u1", "kill-10", 4)
    api.set_active("u1", "kill-10", False)
    row = api.set_active("u1", "kill-10", True)
    assert (row["is_active"], row["progress"], row["status"]) == (True, 4, "in_progress")


def test_set_active_twice_is_idempotent_in_state(api: Api) -> None:
    api.set_active("u1", "not-default", True)
    row = api.set_active("u1", "not-default", True)
    assert row["is_active"] is True
    assert api.scalar("SELECT count(*) FROM challenge.progress WHERE user_id = 'u1'") == 1


@pytest.mark.parametrize("active", [True, False], ids=["activate", "deactivate"])
def test_set_active_unknown_goal_raises_ch010(api: Api, active: bool) -> None:
    with pytest.raises(psycopg.Error) as exc:
        api.set_active("u1", "no-such-goal", active)
    assert_sqlstate(exc.value, "CH010")
    assert api.scalar("SELECT count(*) FROM challenge.progress") == 0
