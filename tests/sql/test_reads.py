"""Reads (docs/api.md section 4): get_progress and get_user_progress."""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.sqlhelpers import (
    DEFAULT_GOALS,
    GOAL_PROGRESS_COLUMNS,
    Api,
    assert_sqlstate,
    challenge,
    goal,
)


def test_get_progress_returns_the_row(api: Api) -> None:
    api.init("u1")
    api.inc("u1", "kill-10", 3)
    row = api.get_raw("u1", "kill-10")
    assert list(row) == GOAL_PROGRESS_COLUMNS
    assert (row["user_id"], row["goal_id"], row["challenge_id"], row["namespace"]) == (
        "u1",
        "kill-10",
        "winter",
        "default",
    )
    assert (row["progress"], row["target"], row["status"], row["is_active"]) == (3, 10, "in_progress", True)
    assert row["assigned_at"] is not None
    assert row["updated_at"] is not None
    assert (row["completed_at"], row["claimed_at"], row["expires_at"]) == (None, None, None)


@pytest.mark.parametrize(
    ("user_id", "goal_id"),
    [("nobody", "kill-10"), ("u1", "not-default"), ("u1", "no-such-goal")],
    ids=["no-row-for-user", "goal-not-assigned", "unknown-goal"],
)
def test_get_progress_without_a_row_is_null(api: Api, user_id: str, goal_id: str) -> None:
    api.init("u1")
    row = api.get_raw(user_id, goal_id)
    assert list(row) == GOAL_PROGRESS_COLUMNS
    assert all(value is None for value in row.values())
    assert api.scalar("SELECT challenge.get_progress(%s, %s) IS NULL", [user_id, goal_id]) is True


def test_get_progress_returns_the_goal_progress_type(api: Api) -> None:
    api.init("u1")
    type_name = api.scalar("SELECT pg_typeof(challenge.get_progress('u1', 'kill-10'))::text")
    assert type_name == "challenge.goal_progress"


def test_user_progress_lists_every_row_grouped_by_challenge(api: Api) -> None:
    api.init("u1")
    api.set_active("u1", "not-default", False)
    rows = api.user_progress("u1")
    assert {r["goal_id"] for r in rows} == DEFAULT_GOALS | {"not-default"}
    assert all(list(r) == GOAL_PROGRESS_COLUMNS for r in rows)
    challenges = [r["challenge_id"] for r in rows]
    # Each challenge's rows are contiguous.
    assert len([c for i, c in enumerate(challenges) if i == 0 or challenges[i - 1] != c]) == 2


def test_user_progress_ordered_by_challenge_then_goal(bare_api: Api) -> None:
    """Document order and id order agree here, so either reading of "ordered by challenge" gives this."""
    bare_api.load(
        {
            "challenges": [
                challenge("a-chal", [goal("a-1"), goal("a-2"), goal("a-3")]),
                challenge("b-chal", [goal("b-1"), goal("b-2")]),
                challenge("c-chal", [goal("c-1"), goal("c-2")]),
            ]
        }
    )
    for goal_id in ("c-2", "b-1", "a-3", "c-1", "a-1", "b-2", "a-2"):
        bare_api.set_active("u1", goal_id, True)
    rows = bare_api.user_progress("u1")
    assert [(r["challenge_id"], r["goal_id"]) for r in rows] == [
        ("a-chal", "a-1"),
        ("a-chal", "a-2"),
        ("a-chal", "a-3"),
        ("b-chal", "b-1"),
        ("b-chal", "b-2"),
        ("c-chal", "c-1"),
        ("c-chal", "c-2"),
    ]


@pytest.mark.parametrize(
    ("active_only", "expected"),
    [
        (True, DEFAULT_GOALS - {"kill-10"}),
        (False, DEFAULT_GOALS | {"not-default"}),
    ],
    ids=["active-only", "all"],
)
def test_user_progress_active_only_filters(api: Api, active_only: bool, expected: frozenset[str]) -> None:
    api.init("u1")
    api.set_active("u1", "kill-10", False)
    api.set_active("u1", "not-default", False)
    rows = api.user_progress("u1", active_only=active_only)
    assert {r["goal_id"] for r in rows} == expected
    if active_only:
        assert all(r["is_active"] for r in rows)


def test_user_progress_defaults_to_all_rows(api: Api) -> None:
    api.init("u1")
    api.set_active("u1", "kill-10", False)
    assert "kill-10" in {r["goal_id"] for r in api.user_progress("u1")}


@pytest.mark.parametrize(
    ("challenge_id", "expected"),
    [
        ("winter", {"kill-10", "login-daily", "reach-lvl-20", "play-3"}),
        ("spring", {"spring-login"}),
        (None, DEFAULT_GOALS),
    ],
    ids=["winter", "spring", "null-means-all"],
)
def test_user_progress_challenge_filter(api: Api, challenge_id: str | None, expected: set[str]) -> None:
    api.init("u1")
    rows = api.user_progress("u1", challenge_id=challenge_id)
    assert {r["goal_id"] for r in rows} == expected
    if challenge_id is not None:
        assert {r["challenge_id"] for r in rows} == {challenge_id}


def test_user_progress_both_filters(api: Api) -> None:
    api.init("u1")
    api.set_active("u1", "kill-10", False)
    rows = api.user_progress("u1", active_only=True, challenge_id="winter")
    assert {r["goal_id"] for r in rows} == {"login-daily", "reach-lvl-20", "play-3"}


def test_user_progress_unknown_challenge_raises_ch011(api: Api) -> None:
    api.init("u1")
    with pytest.raises(psycopg.Error) as exc:
        api.user_progress("u1", challenge_id="autumn")
    assert_sqlstate(exc.value, "CH011")


def test_user_progress_unknown_user_is_empty(api: Api) -> None:
    assert api.user_progress("nobody") == []
    assert api.user_progress("nobody", challenge_id="winter") == []


def test_user_progress_only_that_user(api: Api) -> None:
    api.init("u1")
    api.init("u10")
    assert {r["user_id"] for r in api.user_progress("u1")} == {"u1"}
