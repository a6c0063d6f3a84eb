"""challenge.claim_goal: every outcome and code, the replay rule, and the outbox row it writes.

Check order (issue 4): unknown goal CH010, not completed CH021, inactive CH020, prerequisites CH023, already
claimed CH022 (or, for a recorded claim id, its replay). CH024 goal_rotated comes with the rotation work.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tests.sql.claimhelpers import CLAIM_COLUMNS, QUEST_CONFIG, QuestApi, listen, notifications
from tests.sql.sqlhelpers import assert_sqlstate


def claim_error(qa: QuestApi, user_id: Any, goal_id: Any, claim_id: Any = "c-x") -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught:
        qa.claim(user_id, goal_id, claim_id)
    return caught.value


# --- success ------------------------------------------------------------------------------------------------


def test_claim_marks_the_row_claimed_and_writes_one_pending_grant(qa: QuestApi) -> None:
    qa.init("u1", "eu-1")
    qa.complete("u1", "q-kill")
    before = qa.now()
    claim = qa.claim("u1", "q-kill", "claim-1")
    assert list(claim) == CLAIM_COLUMNS
    assert claim["claimed_at"] >= before
    assert {k: v for k, v in claim.items() if k != "claimed_at"} == {
        "claim_id": "claim-1",
        "user_id": "u1",
        "goal_id": "q-kill",
        "reward_type": "ITEM",
        "reward_id": "reward-q-kill",
        "quantity": 1,
        "replayed": False,
    }
    row = qa.must_get("u1", "q-kill")
    assert (row["status"], row["claimed_at"]) == ("claimed", claim["claimed_at"])
    # B-4: a claimed row always has completed_at (the schema makes anything else impossible).
    assert row["completed_at"] is not None and row["completed_at"] <= row["claimed_at"]
    [grant] = qa.grants()
    assert grant["claim_id"] == "claim-1"
    assert (grant["user_id"], grant["goal_id"], grant["namespace"]) == ("u1", "q-kill", "eu-1")
    assert (grant["reward_type"], grant["reward_id"], grant["quantity"]) == ("ITEM", "reward-q-kill", 1)
    assert (grant["state"], grant["attempts"], grant["max_attempts"]) == ("pending", 0, 10)
    assert grant["claimed_at"] == claim["claimed_at"]
    assert grant["available_at"] == claim["claimed_at"]
    assert (grant["leased_by"], grant["leased_until"], grant["finished_at"]) == (None, None, None)


def test_claim_copies_a_wallet_reward(qa: QuestApi) -> None:
    qa.complete("u1", "q-gold")
    claim = qa.claim("u1", "q-gold", "c-gold")
    assert (claim["reward_type"], claim["reward_id"], claim["quantity"]) == ("WALLET", "gold", 50)


def test_claim_without_claim_id_generates_one(qa: QuestApi) -> None:
    qa.complete("u1", "q-kill")
    claim = qa.claim("u1", "q-kill")
    assert len(claim["claim_id"]) == 36 and claim["replayed"] is False
    assert qa.grants()[0]["claim_id"] == claim["claim_id"]
    # Without the id a retry cannot be told apart from a second claim.
    assert_sqlstate(claim_error(qa, "u1", "q-kill", None), "CH022")


def test_claim_notifies_the_reward_channel_at_commit(
    qa: QuestApi, connect: Any, db: psycopg.Connection[Any]
) -> None:
    listener = connect()
    listen(listener)
    qa.complete("u1", "q-kill")
    qa.complete("u1", "q-gold")
    tx = connect(autocommit=False)
    tx.execute("SELECT * FROM challenge.claim_goal('u1', 'q-kill', 'c-commit')")
    assert notifications(listener) == []  # not before commit
    tx.commit()
    assert notifications(listener) == ["c-commit"]
    # A rolled-back claim leaves no grant, no claimed row and no wake-up.
    tx.execute("SELECT * FROM challenge.claim_goal('u1', 'q-gold', 'c-rollback')")
    tx.rollback()
    assert notifications(listener) == []
    assert [g["claim_id"] for g in qa.grants()] == ["c-commit"]
    assert qa.must_get("u1", "q-gold")["status"] == "completed"


def test_a_failed_claim_transaction_can_be_claimed_again_once(qa: QuestApi, connect: Any) -> None:
    """G-1: the reference granted, then failed to mark the row, and granted again on retry. Here the
    grant is only an outbox row in the claim's transaction: a rollback takes both back."""
    qa.complete("u1", "q-kill")
    tx = connect(autocommit=False)
    tx.execute("SELECT * FROM challenge.claim_goal('u1', 'q-kill', 'c-1')")
    tx.rollback()
    assert qa.grants() == []
    qa.claim("u1", "q-kill", "c-1")
    qa.claim("u1", "q-kill", "c-1")
    assert [g["claim_id"] for g in qa.grants()] == ["c-1"]


# --- replay -------------------------------------------------------------------------------------------------


def test_same_claim_id_returns_the_original_claim_replayed(qa: QuestApi) -> None:
    qa.complete("u1", "q-kill")
    first = qa.claim("u1", "q-kill", "claim-1")
    again = qa.claim("u1", "q-kill", "claim-1")
    assert again == {**first, "replayed": True}
    assert len(qa.grants()) == 1


def test_replay_returns_the_reward_of_the_original_claim_after_a_config_change(qa: QuestApi) -> None:
    qa.complete("u1", "q-kill")
    first = qa.claim("u1", "q-kill", "claim-1")
    doc = {
        "challenges": [
            {
                **QUEST_CONFIG["challenges"][0],
                "goals": [
                    {**g, "reward": {"type": "ITEM", "rewardId": "new-sword", "quantity": 3}}
                    if g["goalId"] == "q-kill"
                    else g
                    for g in QUEST_CONFIG["challenges"][0]["goals"]
                ],
            },
            QUEST_CONFIG["challenges"][1],
        ]
    }
    assert qa.load(doc)["updated"] == ["q-kill"]
    again = qa.claim("u1", "q-kill", "claim-1")
    assert (again["reward_id"], again["quantity"], again["replayed"]) == (first["reward_id"], 1, True)
    assert qa.grants()[0]["reward_id"] == "reward-q-kill"


def test_replay_wins_over_later_state_changes(qa: QuestApi) -> None:
    """A retry must get the answer it lost, even if the row was deactivated since."""
    qa.complete("u1", "q-kill")
    first = qa.claim("u1", "q-kill", "claim-1")
    qa.set_active("u1", "q-kill", False)
    assert qa.claim("u1", "q-kill", "claim-1") == {**first, "replayed": True}
    assert_sqlstate(claim_error(qa, "u1", "q-kill", "claim-2"), "CH020")


def test_another_claim_id_raises_already_claimed(qa: QuestApi) -> None:
    qa.complete("u1", "q-kill")
    qa.claim("u1", "q-kill", "claim-1")
    error = assert_sqlstate(claim_error(qa, "u1", "q-kill", "claim-2"), "CH022")
    assert error.diag.message_primary == "goal q-kill is already claimed"
    assert "claim-1" in (error.diag.message_detail or "")
    assert len(qa.grants()) == 1


def test_a_claim_id_of_another_goal_of_the_player_is_invalid(qa: QuestApi) -> None:
    qa.complete("u1", "q-kill")
    qa.complete("u1", "q-gold")
    qa.claim("u1", "q-kill", "claim-1")
    error = assert_sqlstate(claim_error(qa, "u1", "q-gold", "claim-1"), "CH003")
    assert error.diag.message_primary == "invalid argument: claim id claim-1 belongs to another claim"
    assert error.diag.message_detail == "It claimed goal q-kill for this player."
    assert qa.must_get("u1", "q-gold")["status"] == "completed"
    assert len(qa.grants()) == 1


def test_claim_ids_are_unique_per_player_only(qa: QuestApi) -> None:
    """Another player's claim with the same id is another claim, with its own grant and key."""
    qa.complete("u1", "q-kill")
    qa.complete("u2", "q-kill")
    first = qa.claim("u1", "q-kill", "claim-1")
    second = qa.claim("u2", "q-kill", "claim-1")
    assert (first["user_id"], first["replayed"]) == ("u1", False)
    assert (second["user_id"], second["replayed"]) == ("u2", False)
    assert qa.must_get("u2", "q-kill")["status"] == "claimed"
    assert sorted((g["user_id"], g["claim_id"], g["idempotency_key"]) for g in qa.grants()) == [
        ("u1", "claim-1", "2:u1:claim-1"),
        ("u2", "claim-1", "2:u2:claim-1"),
    ]
    # Each replays as its own player's claim.
    assert qa.claim("u2", "q-kill", "claim-1")["replayed"] is True


# --- every refusal, with its code ---------------------------------------------------------------------------


def test_unknown_goal_raises_goal_not_found(qa: QuestApi) -> None:
    error = assert_sqlstate(claim_error(qa, "u1", "no-such-goal"), "CH010")
    assert error.diag.message_primary == "goal no-such-goal not found"


def test_retired_goal_raises_goal_not_found(qa: QuestApi) -> None:
    qa.complete("u1", "q-gold")
    doc = {
        "challenges": [
            {
                **QUEST_CONFIG["challenges"][0],
                "goals": [g for g in QUEST_CONFIG["challenges"][0]["goals"] if g["goalId"] != "q-gold"],
            },
            QUEST_CONFIG["challenges"][1],
        ]
    }
    assert qa.load(doc)["retired"] == ["q-gold"]
    assert_sqlstate(claim_error(qa, "u1", "q-gold"), "CH010")


@pytest.mark.parametrize(
    ("setup", "detail"),
    [
        ("none", "The goal is not assigned to player u1."),
        ("not_started", "Status is not_started, progress 0 of 2."),
        ("in_progress", "Status is in_progress, progress 1 of 2."),
    ],
)
def test_not_completed_raises_goal_not_completed(qa: QuestApi, setup: str, detail: str) -> None:
    if setup != "none":
        qa.set_active("u1", "q-kill", True)
    if setup == "in_progress":
        qa.inc("u1", "q-kill", 1)
    error = assert_sqlstate(claim_error(qa, "u1", "q-kill"), "CH021")
    assert error.diag.message_primary == "goal q-kill is not completed"
    assert error.diag.message_detail == detail
    assert qa.grants() == []


def test_inactive_completed_goal_raises_goal_not_active(qa: QuestApi) -> None:
    qa.complete("u1", "q-kill")
    qa.set_active("u1", "q-kill", False)
    error = assert_sqlstate(claim_error(qa, "u1", "q-kill"), "CH020")
    assert error.diag.message_primary == "goal q-kill is not active"
    assert qa.must_get("u1", "q-kill")["status"] == "completed"


def test_missing_prerequisites_are_listed(qa: QuestApi) -> None:
    qa.complete("u1", "q-win")
    error = assert_sqlstate(claim_error(qa, "u1", "q-win"), "CH023")
    assert error.diag.message_primary == "prerequisites of goal q-win are not met"
    assert error.diag.message_detail == "Missing prerequisites: l-login, q-kill."
    qa.complete("u1", "q-kill")
    error = assert_sqlstate(claim_error(qa, "u1", "q-win"), "CH023")
    assert error.diag.message_detail == "Missing prerequisites: l-login."
    assert qa.grants() == []


def test_prerequisites_count_over_every_challenge_and_claimed_and_inactive_rows(qa: QuestApi) -> None:
    qa.complete("u1", "q-win")
    qa.complete("u1", "q-kill")
    qa.claim("u1", "q-kill", "c-kill")  # claimed counts
    qa.complete("u1", "l-login")  # another challenge counts
    qa.set_active("u1", "l-login", False)  # is_active is irrelevant
    claim = qa.claim("u1", "q-win", "c-win")
    assert claim["replayed"] is False


@pytest.mark.parametrize(
    ("state", "code"),
    [
        ("inactive_not_completed", "CH021"),  # not completed comes before inactive
        ("inactive_missing_prerequisites", "CH020"),  # inactive comes before prerequisites
        ("claimed_missing_prerequisites", "CH023"),  # prerequisites come before already claimed
    ],
)
def test_check_order(qa: QuestApi, state: str, code: str) -> None:
    if state == "inactive_not_completed":
        qa.set_active("u1", "q-win", False)
    elif state == "inactive_missing_prerequisites":
        qa.complete("u1", "q-win")
        qa.set_active("u1", "q-win", False)
    else:
        qa.complete("u1", "q-win")
        qa.make_claimed("u1", "q-win")  # setup only: claimed without its prerequisites
    assert_sqlstate(claim_error(qa, "u1", "q-win"), code)


@pytest.mark.parametrize(
    ("user_id", "goal_id", "claim_id", "message"),
    [
        (None, "q-kill", "c", "user_id must be a string of 1 to 100 characters"),
        ("", "q-kill", "c", "user_id must be a string of 1 to 100 characters"),
        ("u1", None, "c", "goal_id must be a string of 1 to 100 characters"),
        ("u1", "q-kill", "", "claim_id must be a string of 1 to 100 characters"),
        ("u1", "q-kill", "c" * 101, "claim_id must be a string of 1 to 100 characters"),
    ],
    ids=["null_user", "empty_user", "null_goal", "empty_claim_id", "long_claim_id"],
)
def test_bad_arguments_raise_invalid_argument(
    qa: QuestApi, user_id: Any, goal_id: Any, claim_id: Any, message: str
) -> None:
    qa.complete("u1", "q-kill")
    error = assert_sqlstate(claim_error(qa, user_id, goal_id, claim_id), "CH003")
    assert message in str(error.diag.message_primary)
    assert qa.must_get("u1", "q-kill")["status"] == "completed"


# --- after the claim ----------------------------------------------------------------------------------------


def test_a_claimed_row_no_longer_moves(qa: QuestApi) -> None:
    qa.complete("u1", "q-kill")
    qa.claim("u1", "q-kill", "c-1")
    assert qa.inc("u1", "q-kill", 1)["outcome"] == "claimed"
    assert qa.must_get("u1", "q-kill")["progress"] == 2


def test_b4_a_completed_row_without_completed_at_cannot_exist(qa: QuestApi) -> None:
    """B-4: the reference stored completed rows with a NULL completed_at, and its claim then failed after
    granting. Here the table refuses such a row, so every claimable row has its completion time."""
    qa.set_active("u1", "q-kill", True)
    with pytest.raises(psycopg.errors.CheckViolation):
        qa.conn.execute(
            "UPDATE challenge.progress SET status = 'completed', progress = 2"
            " WHERE user_id = 'u1' AND goal_id = 'q-kill'"
        )
    qa.inc("u1", "q-kill", 2)
    qa.claim("u1", "q-kill", "c-1")
    row = qa.must_get("u1", "q-kill")
    assert row["completed_at"] is not None and row["claimed_at"] is not None
    assert row["claimed_at"] - row["completed_at"] < timedelta(minutes=1)
