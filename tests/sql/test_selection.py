"""challenge.select_goals and challenge.random_select_goals (docs/api.md section 2, [C]).

Covers the reference's selection defects: duplicates in the input failed the whole selection (B-5), and the
random pool never saw a prerequisite completed in another challenge (G-12).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.sql.claimhelpers import QuestApi
from tests.sql.sqlhelpers import GOAL_PROGRESS_COLUMNS, assert_sqlstate


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["goal_id"] for r in rows]


# --- select_goals -----------------------------------------------------------------------------------------


def test_select_creates_and_activates_exactly_these_goals(qa: QuestApi) -> None:
    rows = qa.select("u1", "quests", ["q-gold", "q-boss"])
    assert ids(rows) == ["q-boss", "q-gold"]
    for r in rows:
        assert list(r) == GOAL_PROGRESS_COLUMNS
        assert (r["is_active"], r["status"], r["progress"], r["namespace"]) == (
            True,
            "not_started",
            0,
            "default",
        )
        assert r["assigned_at"] is not None
    assert qa.active_goals("u1") == {"q-boss", "q-gold"}


def test_select_with_duplicates_activates_each_goal_once(qa: QuestApi) -> None:
    """B-5: the reference failed with "cannot affect row a second time"."""
    rows = qa.select("u1", "quests", ["q-boss", "q-gold", "q-boss", "q-boss"])
    assert ids(rows) == ["q-boss", "q-gold"]
    assert qa.scalar("SELECT count(*) FROM challenge.progress WHERE user_id = 'u1'") == 2


def test_select_keeps_progress_status_and_assigned_at_of_active_rows(qa: QuestApi) -> None:
    qa.init("u1", "eu-1")
    qa.inc("u1", "q-kill", 1)
    before = qa.must_get("u1", "q-kill")
    [row] = qa.select("u1", "quests", ["q-kill"])
    assert (row["progress"], row["status"], row["assigned_at"]) == (1, "in_progress", before["assigned_at"])
    # New rows take the player's namespace.
    [boss] = qa.select("u1", "quests", ["q-boss"])
    assert boss["namespace"] == "eu-1"


def test_select_reactivates_an_inactive_row_as_it_was(qa: QuestApi) -> None:
    qa.complete("u1", "q-boss")
    qa.set_active("u1", "q-boss", False)
    [row] = qa.select("u1", "quests", ["q-boss"])
    assert (row["is_active"], row["status"], row["progress"]) == (True, "completed", 1)


def test_select_without_replace_keeps_other_active_goals(qa: QuestApi) -> None:
    qa.init("u1")
    qa.select("u1", "quests", ["q-boss"])
    assert qa.active_goals("u1") == {"q-kill", "q-win", "l-login", "q-boss"}


def test_select_with_replace_deactivates_the_challenges_other_goals_only(qa: QuestApi) -> None:
    qa.init("u1")
    qa.inc("u1", "q-kill", 1)
    rows = qa.select("u1", "quests", ["q-boss", "q-win"], True)
    assert ids(rows) == ["q-boss", "q-win"]
    # l-login is another challenge's goal: untouched.
    assert qa.active_goals("u1") == {"q-boss", "q-win", "l-login"}
    replaced = qa.must_get("u1", "q-kill")
    assert (replaced["is_active"], replaced["progress"], replaced["status"]) == (False, 1, "in_progress")


def test_select_is_all_or_nothing(qa: QuestApi) -> None:
    qa.init("u1")
    before = qa.table_rows()
    with pytest.raises(psycopg.Error) as caught:
        qa.select("u1", "quests", ["q-boss", "l-login", "q-gold"], True)
    error = assert_sqlstate(caught.value, "CH010")
    assert error.diag.message_primary == "goal l-login not found in challenge quests"
    assert error.diag.message_detail == "Goal l-login belongs to challenge logins."
    with pytest.raises(psycopg.Error) as caught:
        qa.select("u1", "quests", ["q-boss", "zz-unknown"], True)
    error = assert_sqlstate(caught.value, "CH010")
    assert error.diag.message_detail == "Goal zz-unknown is not in the catalog (or was retired)."
    assert qa.table_rows() == before


@pytest.mark.parametrize(
    ("challenge_id", "goal_ids", "code"),
    [
        ("no-such-challenge", ["q-boss"], "CH011"),
        ("quests", [], "CH003"),
        ("quests", None, "CH003"),
        ("quests", ["q-boss", None], "CH003"),
        ("", ["q-boss"], "CH003"),
    ],
    ids=["unknown_challenge", "empty_list", "null_list", "null_element", "empty_challenge_id"],
)
def test_select_bad_arguments(qa: QuestApi, challenge_id: str, goal_ids: Any, code: str) -> None:
    with pytest.raises(psycopg.Error) as caught:
        qa.select("u1", challenge_id, goal_ids)
    assert_sqlstate(caught.value, code)
    assert qa.table_rows()["progress"] == []


def test_select_null_replace_is_invalid(qa: QuestApi) -> None:
    with pytest.raises(psycopg.Error) as caught:
        qa.rows("SELECT * FROM challenge.select_goals('u1', 'quests', ARRAY['q-boss'], NULL)")
    assert_sqlstate(caught.value, "CH003")


# --- random_select_goals ------------------------------------------------------------------------------------


def test_random_pool_leaves_out_completed_claimed_active_and_locked_goals(qa: QuestApi) -> None:
    qa.init("u1")  # q-kill, q-win active; l-login active (other challenge)
    qa.complete("u1", "q-gold")
    qa.set_active("u1", "q-gold", False)
    # Pool: q-boss only (q-kill/q-win active, q-gold completed, q-after-boss needs q-boss).
    assert ids(qa.random_select("u1", "quests", 5, seed="s")) == ["q-boss"]


def test_random_pool_with_exclude_active_false_includes_active_goals(qa: QuestApi) -> None:
    qa.init("u1")
    qa.complete("u1", "l-login")
    qa.complete("u1", "q-boss")
    rows = qa.random_select("u1", "quests", 10, exclude_active=False, seed="s")
    # Active q-kill is in the pool now; q-win's prerequisites (q-kill, l-login) are not all done; q-boss
    # is completed, which unlocks q-after-boss.
    assert ids(rows) == ["q-after-boss", "q-gold", "q-kill"]


def test_random_pool_sees_prerequisites_completed_in_another_challenge(qa: QuestApi) -> None:
    """G-12: the reference looked only at the same challenge's rows."""
    qa.complete("u1", "q-kill")
    qa.claim("u1", "q-kill", "c-1")
    qa.set_active("u1", "q-win", False)
    before = ids(qa.random_select("u2", "quests", 10, seed="s"))
    assert "q-win" not in before
    pool = {r["goal_id"] for r in qa.random_select("u1", "quests", 10, seed="s")}
    assert "q-win" not in pool  # l-login (other challenge) still missing
    qa.complete("u1", "l-login")
    qa.set_active("u1", "q-win", False)
    assert "q-win" in {r["goal_id"] for r in qa.random_select("u1", "quests", 10, seed="s")}


def test_same_seed_same_pick(qa: QuestApi) -> None:
    picks = [ids(qa.random_select(user_id, "quests", 2, seed="season-7")) for user_id in ("u1", "u2", "u3")]
    assert picks[0] == picks[1] == picks[2] and len(picks[0]) == 2
    assert set(picks[0]) <= {"q-kill", "q-gold", "q-boss"}
    # Different seeds spread over the pool (some seed picks differently).
    others = {tuple(ids(qa.random_select(f"v{i}", "quests", 2, seed=f"seed-{i}"))) for i in range(12)}
    assert len(others) > 1


def test_without_seed_the_pick_comes_from_the_pool(qa: QuestApi) -> None:
    for i in range(5):
        rows = qa.random_select(f"u{i}", "quests", 2)
        assert len(rows) == 2 and set(ids(rows)) <= {"q-kill", "q-gold", "q-boss"}
        assert all(r["is_active"] for r in rows)


def test_random_select_with_replace(qa: QuestApi) -> None:
    qa.init("u1")
    rows = qa.random_select("u1", "quests", 1, replace=True, seed="s")
    assert len(rows) == 1 and rows[0]["goal_id"] in {"q-gold", "q-boss"}
    assert qa.active_goals("u1") == {rows[0]["goal_id"], "l-login"}


def test_random_select_with_replace_and_active_goals_in_the_pool_keeps_a_picked_active_goal(
    qa: QuestApi,
) -> None:
    qa.init("u1")
    kept = qa.must_get("u1", "q-kill")
    rows = qa.random_select("u1", "quests", 3, replace=True, exclude_active=False, seed="s")
    picked = set(ids(rows))
    assert qa.active_goals("u1") == picked | {"l-login"}
    if "q-kill" in picked:
        assert qa.must_get("u1", "q-kill")["assigned_at"] == kept["assigned_at"]


def test_a_pool_smaller_than_the_count_gives_all_of_it(qa: QuestApi) -> None:
    rows = qa.random_select("u1", "quests", 50, seed="s")
    assert sorted(ids(rows)) == ["q-boss", "q-gold", "q-kill"]


def test_an_empty_pool_raises_insufficient_goals(qa: QuestApi) -> None:
    qa.random_select("u1", "quests", 50)
    before = qa.table_rows()
    with pytest.raises(psycopg.Error) as caught:
        qa.random_select("u1", "quests", 3)
    error = assert_sqlstate(caught.value, "CH025")
    assert error.diag.message_primary == "not enough goals to select in challenge quests"
    assert error.diag.message_detail == "Available 0, requested 3."
    assert qa.table_rows() == before


@pytest.mark.parametrize(
    ("challenge_id", "count", "code"),
    [("no-such", 1, "CH011"), ("quests", 0, "CH003"), ("quests", -1, "CH003"), ("quests", None, "CH003")],
    ids=["unknown_challenge", "zero", "negative", "null"],
)
def test_random_select_bad_arguments(qa: QuestApi, challenge_id: str, count: Any, code: str) -> None:
    with pytest.raises(psycopg.Error) as caught:
        qa.random_select("u1", challenge_id, count)
    assert_sqlstate(caught.value, code)
    assert qa.table_rows()["progress"] == []
