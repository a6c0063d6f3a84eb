"""Concurrent multi-player batches on the cluster: no lost update, no error.

Several connections at once run batches that span every player of the test (so several shards) over the
same rows, each in its own order: increment_progress_batch on one goal, record_events (kills, which reach
three goals per player) on the others. Citus runs a multi-shard write as one distributed transaction; the
engine locks rows in one global key order, so no distributed deadlock may surface as an error. At the
end every row's progress is the sum of what was applied to it, and the audit ledger holds one row per
changed row per batch whose progress steps add up to the same sum.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg

from tests.citus.citushelpers import CLUSTER, Cluster, errors_of, run_threads

pytestmark = CLUSTER

Connect = Callable[..., psycopg.Connection[Any]]
THREADS = 6
ROUNDS = 5
PLAYERS = 8
# kill-1000 is opt-in (target 1000): the totals stay below it. Kills events reach all three kill goals.
BATCH_GOAL = "kill-1000"
KILL_GOALS = ("kill-10", "kill-100", "kill-1000")


def plan(users: list[str], thread: int, round_: int, run: str) -> list[dict[str, Any]]:
    """One thread's batch for one round: every player, in an order of its own, some of them twice."""
    order = list(range(len(users)))
    random.Random(thread * 1000 + round_).shuffle(order)
    items: list[dict[str, Any]] = []
    for position, j in enumerate(order):
        copies = 2 if (thread + j) % 2 == 0 else 1
        for copy in range(copies):
            items.append(
                {
                    "user_id": users[j],
                    "delta": 1 + (thread + round_ + position + copy) % 3,
                    "event_id": f"{run}-t{thread}-r{round_}-j{j}-c{copy}",
                }
            )
    return items


def as_increments(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "goal_id": BATCH_GOAL} for item in items]


def as_events(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "event_id": item["event_id"],
            "user_id": item["user_id"],
            "kind": "statistic",
            "stat_code": "kills",
            "inc": item["delta"],
        }
        for item in items
    ]


def test_concurrent_multi_player_batches_lose_no_update_and_raise_no_error(
    cluster: Cluster, cluster_connect: Connect
) -> None:
    api = cluster.api()
    users = cluster.ids("batches", PLAYERS)
    for user in users:
        api.init(user)
        assert api.set_active(user, BATCH_GOAL, True)["is_active"] is True
    apis = [cluster.api(cluster_connect()) for _ in range(THREADS)]
    plans = [[plan(users, t, r, cluster.run) for r in range(ROUNDS)] for t in range(THREADS)]

    def work(t: int) -> list[dict[str, Any]]:
        results = []
        for items in plans[t]:
            if t % 2 == 0:
                results.append(apis[t].inc_batch(as_increments(items)))
            else:
                results.append(apis[t].record(as_events(items)))
        return results

    outcomes = run_threads(THREADS, work, timeout=120.0)

    errors = errors_of(outcomes)
    assert not errors, f"{len(errors)} thread(s) failed; first: {errors[0]!r}"
    batch_sum: Counter[str] = Counter()
    event_sum: Counter[str] = Counter()
    for t in range(THREADS):
        for items, result in zip(plans[t], outcomes[t], strict=True):
            # Every item is fresh and its row assigned and active: all apply, none is skipped.
            per_item = 1 if t % 2 == 0 else len(KILL_GOALS)
            assert result["applied"] == per_item * len(items), result
            assert not any(result["skipped"].values()), result
            for item in items:
                (batch_sum if t % 2 == 0 else event_sum)[item["user_id"]] += item["delta"]

    for user in users:
        progress = {row["goal_id"]: row["progress"] for row in api.user_progress(user)}
        expected = {
            "kill-10": event_sum[user],
            "kill-100": event_sum[user],
            "kill-1000": event_sum[user] + batch_sum[user],
        }
        assert {goal_id: progress[goal_id] for goal_id in KILL_GOALS} == expected, user

    ledger = api.rows(
        "SELECT user_id, goal_id, count(*) AS n, sum(progress_after - coalesce(progress_before, 0)) AS steps"
        " FROM challenge.ledger WHERE user_id = ANY(%s) AND operation = 'increment'"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        [users],
    )
    changes = {(row["user_id"], row["goal_id"]): (row["n"], row["steps"]) for row in ledger}
    for user in users:
        # One ledger row per changed row per batch: every batch reaches every player once per goal.
        assert changes[(user, "kill-1000")] == (THREADS * ROUNDS, event_sum[user] + batch_sum[user])
        for goal_id in ("kill-10", "kill-100"):
            assert changes[(user, goal_id)] == ((THREADS // 2) * ROUNDS, event_sum[user])
