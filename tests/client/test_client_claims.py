"""Client and AsyncClient methods of issue 4: typed results and the CH02x exceptions."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from pgchallenge import (
    ERROR_CLASSES,
    AsyncClient,
    ChallengeError,
    Claim,
    Client,
    GoalAlreadyClaimed,
    GoalNotActive,
    GoalNotCompleted,
    GoalNotFound,
    GoalProgress,
    InsufficientGoals,
    InvalidArgument,
    LedgerEntry,
    PrerequisitesNotMet,
    RewardGrant,
    RewardGrantPending,
    async_connect,
)

EXPECTED = {
    "CH020": GoalNotActive,
    "CH021": GoalNotCompleted,
    "CH022": GoalAlreadyClaimed,
    "CH023": PrerequisitesNotMet,
    "CH025": InsufficientGoals,
    "CH026": RewardGrantPending,
}


def completed(client: Client, user_id: str = "u1", goal_id: str = "kill-3") -> None:
    client.initialize_player(user_id)
    client.set_goal_active(user_id, goal_id, True)
    assert client.increment_progress(user_id, goal_id, 3).status == "completed"


def test_registry_holds_the_claim_and_selection_codes() -> None:
    assert {code: ERROR_CLASSES[code] for code in EXPECTED} == EXPECTED
    assert all(issubclass(cls, ChallengeError) for cls in EXPECTED.values())
    assert GoalAlreadyClaimed.name == "goal_already_claimed"


def test_claim_goal_returns_a_claim_and_replays(client: Client) -> None:
    completed(client)
    claim = client.claim_goal("u1", "kill-3", "claim-1")
    assert isinstance(claim, Claim)
    assert (claim.claim_id, claim.reward_type, claim.reward_id, claim.quantity) == (
        "claim-1",
        "ITEM",
        "reward-kill-3",
        1,
    )
    assert isinstance(claim.claimed_at, datetime) and claim.replayed is False
    again = client.claim_goal("u1", "kill-3", "claim-1")
    assert again.replayed is True and again.claimed_at == claim.claimed_at
    with pytest.raises(GoalAlreadyClaimed) as caught:
        client.claim_goal("u1", "kill-3", "claim-2")
    assert caught.value.detail is not None and "claim-1" in caught.value.detail


def test_claim_errors_map_to_their_classes(client: Client, config: dict[str, Any]) -> None:
    with pytest.raises(GoalNotFound):
        client.claim_goal("u1", "no-such-goal")
    with pytest.raises(GoalNotCompleted):
        client.claim_goal("u1", "kill-3")
    completed(client)
    client.set_goal_active("u1", "kill-3", False)
    with pytest.raises(GoalNotActive):
        client.claim_goal("u1", "kill-3")
    with pytest.raises(InvalidArgument):
        client.claim_goal("u1", "kill-3", "")
    # A cross-challenge prerequisite that u2 has not completed.
    config["challenges"][1]["goals"][0]["prerequisites"] = ["optional-1"]
    client.load_config(config)
    completed(client, "u2", "swim-2")
    with pytest.raises(PrerequisitesNotMet) as caught:
        client.claim_goal("u2", "swim-2")
    assert caught.value.detail == "Missing prerequisites: optional-1."


def test_lease_and_finish_return_reward_grants(client: Client) -> None:
    completed(client)
    client.claim_goal("u1", "kill-3", "claim-1")
    [grant] = client.lease_reward_grants("worker-1", 5, timedelta(seconds=30))
    assert isinstance(grant, RewardGrant)
    assert (grant.claim_id, grant.idempotency_key, grant.state, grant.attempts) == (
        "claim-1",
        f"{len(grant.user_id)}:{grant.user_id}:claim-1",
        "pending",
        1,
    )
    assert grant.leased_by == "worker-1" and grant.leased_until is not None
    assert client.lease_reward_grants("worker-2", 5) == []
    retried = client.finish_reward_grant(grant.user_id, "claim-1", False, "503")
    assert (retried.state, retried.last_error, retried.finished_at) == ("pending", "503", None)
    done = client.finish_reward_grant(grant.user_id, "claim-1", True)
    assert done.state == "granted" and done.finished_at is not None
    with pytest.raises(InvalidArgument):
        client.finish_reward_grant(grant.user_id, "no-such-claim", True)


def test_selection_methods(client: Client) -> None:
    rows = client.select_goals("u1", "winter", ("optional-1", "kill-3", "optional-1"))
    assert [r.goal_id for r in rows] == ["kill-3", "optional-1"]
    assert all(isinstance(r, GoalProgress) and r.is_active for r in rows)
    rows = client.select_goals("u1", "winter", ["level-10"], replace_existing=True)
    assert [r.goal_id for r in client.get_user_progress("u1", active_only=True)] == ["level-10"]
    first = client.random_select_goals("u2", "winter", 2, seed="s")
    again = client.random_select_goals("u3", "winter", 2, seed="s")
    assert [r.goal_id for r in first] == [r.goal_id for r in again] and len(first) == 2
    client.random_select_goals("u2", "winter", 10, exclude_active=True)
    with pytest.raises(InsufficientGoals) as caught:
        client.random_select_goals("u2", "winter", 10)
    assert caught.value.detail == "Available 0, requested 10."


def test_maintenance_methods(client: Client, db: psycopg.Connection[Any]) -> None:
    completed(client)
    db.execute(
        "UPDATE challenge.progress SET expires_at = now() - interval '9 days' WHERE goal_id = 'kill-3'"
    )
    assert client.delete_expired_progress() == 1
    assert client.delete_expired_progress(timedelta(0), 10) == 0
    client.increment_progress("u1", "level-10", event_id="e-1")
    assert client.prune_processed_events() == 0
    assert client.prune_processed_events(timedelta(0), 5) == 1
    completed(client, "u2")
    client.claim_goal("u2", "kill-3", "c-u2")
    with pytest.raises(RewardGrantPending) as caught:
        client.delete_user_data("u2")
    assert caught.value.detail == "Pending claims: c-u2."
    client.lease_reward_grants("w", 1)
    client.finish_reward_grant("u2", "c-u2", True)
    history = ledger_rows(db, "u2")
    assert history > 0
    assert client.delete_user_data("u2") == 5 + history  # 4 default rows, the granted claim, the ledger
    assert client.delete_user_data("u2") == 0
    assert ledger_rows(db, "u2") == 0


def ledger_rows(db: psycopg.Connection[Any], user_id: str) -> int:
    row = db.execute("SELECT count(*) FROM challenge.ledger WHERE user_id = %s", [user_id]).fetchone()
    assert row is not None
    return int(row[0])


def test_ledger_methods(client: Client) -> None:
    completed(client)
    client.claim_goal("u1", "kill-3", "c-1")
    entries = client.explain_progress("u1", "kill-3")
    assert all(isinstance(e, LedgerEntry) for e in entries)
    assert [(e.operation, e.progress_before, e.progress_after, e.status_after) for e in entries] == [
        ("assign", None, 0, "not_started"),
        ("increment", 0, 3, "completed"),
        ("claim", 3, 3, "claimed"),
    ]
    assert entries[1].status_before == "not_started" and not entries[1].rotated
    assert entries[0].change_id < entries[1].change_id < entries[2].change_id
    assert client.explain_progress("u1", "no-such-goal") == []
    assert client.create_ledger_partitions(2) == 3
    assert client.create_ledger_partitions(2) == 0
    assert client.prune_ledger() == 0
    with pytest.raises(InvalidArgument):
        client.create_ledger_partitions(-1)


def test_async_client_round_trip(db_url: str, client: Client) -> None:
    completed(client)

    async def main() -> None:
        aconn = await async_connect(db_url, autocommit=True)
        async with aconn:
            aclient = AsyncClient(aconn)
            claim = await aclient.claim_goal("u1", "kill-3", "claim-a")
            assert isinstance(claim, Claim) and not claim.replayed
            assert (await aclient.claim_goal("u1", "kill-3", "claim-a")).replayed
            with pytest.raises(GoalAlreadyClaimed):
                await aclient.claim_goal("u1", "kill-3", "claim-b")
            [grant] = await aclient.lease_reward_grants("aw", 10)
            assert isinstance(grant, RewardGrant)
            assert (await aclient.finish_reward_grant("u1", "claim-a", True)).state == "granted"
            rows = await aclient.select_goals("u9", "winter", ["optional-1"], True)
            assert [r.goal_id for r in rows] == ["optional-1"]
            picked = await aclient.random_select_goals("u9", "winter", 1, seed="x")
            assert len(picked) == 1
            assert await aclient.delete_expired_progress() == 0
            assert await aclient.prune_processed_events() == 0
            [assigned] = await aclient.explain_progress("u9", "optional-1")
            assert isinstance(assigned, LedgerEntry) and assigned.operation == "assign"
            assert await aclient.create_ledger_partitions(0) == 1
            assert await aclient.prune_ledger(timedelta(days=1), 10) == 0
            assert await aclient.delete_user_data("u9") == 4  # 2 progress rows, their 2 'assign' entries

    asyncio.run(main())
