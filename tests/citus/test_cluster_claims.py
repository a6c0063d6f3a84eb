"""Claims racing on the cluster: many connections claim one completed goal of one player at once.

The contract (plpgsql/functions/claim_goal.sql): concurrent claims of one row queue on its lock; one wins,
the others see it claimed (CH022 goal_already_claimed) or, when they carry the winner's claim id, get the
original claim back (replayed = true). Exactly one reward grant, whatever the mix of claim ids. Each call
is made outside a transaction block, so Citus delegates it to the worker holding the player.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.citus.citushelpers import CLUSTER, Cluster, run_threads

pytestmark = CLUSTER

Connect = Callable[..., psycopg.Connection[Any]]
THREADS = 12


def claim_ids(mix: str) -> list[str]:
    if mix == "equal":
        return ["same"] * THREADS
    if mix == "different":
        return [f"own-{i}" for i in range(THREADS)]
    return ["same" if i % 2 == 0 else f"own-{i}" for i in range(THREADS)]


@pytest.mark.parametrize("mix", ["equal", "different", "mixed"])
def test_concurrent_claims_of_one_goal_make_exactly_one_claim_and_one_grant(
    cluster: Cluster, cluster_connect: Connect, mix: str
) -> None:
    api = cluster.api()
    [user] = cluster.ids(f"claim-race-{mix}", 1)
    api.init(user)
    assert api.inc(user, "kill-10", 10)["status"] == "completed"
    ids = claim_ids(mix)
    apis = [cluster.api(cluster_connect()) for _ in range(THREADS)]

    results = run_threads(THREADS, lambda i: apis[i].claim(user, "kill-10", ids[i]))

    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, psycopg.Error)]
    assert not unexpected, unexpected
    won = [i for i, r in enumerate(results) if isinstance(r, dict) and r["replayed"] is False]
    assert len(won) == 1, results
    winner = results[won[0]]
    for i, result in enumerate(results):
        if i == won[0]:
            continue
        if ids[i] == winner["claim_id"]:
            # The winner's own claim id: its retry gets the original claim back.
            assert isinstance(result, dict), f"thread {i} ({ids[i]}): {result!r}"
            assert result == {**winner, "replayed": True}
        else:
            assert isinstance(result, psycopg.Error), f"thread {i} ({ids[i]}): {result!r}"
            assert result.sqlstate == "CH022", f"thread {i} ({ids[i]}): {result.sqlstate} {result}"
            assert result.diag.message_primary == "goal kill-10 is already claimed"
            assert (result.diag.message_detail or "").startswith(f"Claim {winner['claim_id']} claimed it at ")

    grants = api.rows(
        "SELECT claim_id, goal_id, state, reward_id, quantity, idempotency_key FROM challenge.reward_grants"
        " WHERE user_id = %s",
        [user],
    )
    assert grants == [
        {
            "claim_id": winner["claim_id"],
            "goal_id": "kill-10",
            "state": "pending",
            "reward_id": "bronze-sword",
            "quantity": 1,
            # Deterministic: the player (length-prefixed) and the claim id.
            "idempotency_key": f"{len(user)}:{user}:{winner['claim_id']}",
        }
    ]
    assert api.get(user, "kill-10")["status"] == "claimed"
    # And the claim replays after the race as well.
    assert api.claim(user, "kill-10", winner["claim_id"]) == {**winner, "replayed": True}
