"""The reward-grant outbox on the cluster: concurrent leases and the results of grant attempts.

A cluster cannot lock rows across shards, so lease_reward_grants re-checks each grant in its UPDATE instead
(challenge._row_lock): no grant may be leased twice and, together, the leases hand out every due grant. The
cluster's database is shared by every run, so the due grants include earlier runs' (the parity scenario
leaves its claims pending): the test leases them all and finishes every grant it leased.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg

from tests.citus.citushelpers import CLUSTER, Cluster, errors_of, expect_error, run_threads
from tests.serverclock import ServerClock

pytestmark = CLUSTER

Connect = Callable[..., psycopg.Connection[Any]]
PLAYERS = 10
Key = tuple[str, str]


def keys(grants: list[dict[str, Any]]) -> list[Key]:
    return [(g["user_id"], g["claim_id"]) for g in grants]


def test_concurrent_leases_hand_out_every_due_grant_once_and_finish_records_results(
    cluster: Cluster, cluster_connect: Connect
) -> None:
    api = cluster.api()
    users = cluster.ids("outbox", PLAYERS)
    mine: set[Key] = set()
    for i, user in enumerate(users):
        api.init(user)
        api.inc(user, "kill-10", 10)
        claim = api.claim(user, "kill-10", f"grant-{i}")
        mine.add((user, claim["claim_id"]))

    pending = {
        (r["user_id"], r["claim_id"]): r
        for r in api.rows("SELECT * FROM challenge.reward_grants WHERE state = 'pending'")
    }
    due = {k for k, r in pending.items() if r["available_at"] <= api.now()}
    assert mine <= due
    limit = len(due) // 2 + 1
    leasers = [cluster.api(cluster_connect()) for _ in range(2)]

    leases = run_threads(2, lambda i: leasers[i].lease(f"{cluster.run}-worker-{i}", limit))

    assert not errors_of(leases), leases
    first, second = (keys(lease) for lease in leases)
    assert not set(first) & set(second), "a grant was leased twice"
    assert len(set(first)) == len(first) and len(set(second)) == len(second)
    leased = set(first) | set(second)
    # Every grant due before the leases is leased; any other was pending and came due meanwhile (a lease
    # of an earlier run running out).
    assert due <= leased <= set(pending), (due - leased, leased - set(pending))
    # Fewer than the limit only when fewer are due: one lease got its limit (or everything).
    assert len(first) <= limit and len(second) <= limit
    assert max(len(first), len(second)) == min(limit, len(leased))
    clock = ServerClock.read(api.conn)
    for i, lease in enumerate(leases):
        for grant in lease:
            before = pending[(grant["user_id"], grant["claim_id"])]
            assert grant["state"] == "pending"
            assert grant["attempts"] == before["attempts"] + 1
            assert grant["leased_by"] == f"{cluster.run}-worker-{i}"
            assert grant["leased_until"] > clock.now
            assert grant["available_at"] == grant["leased_until"]
    # Leased grants are nobody else's until their lease ends.
    assert not set(keys(api.lease(f"{cluster.run}-worker-late", 10_000))) & leased

    ordered = sorted(mine)
    failing_user, failing_claim = ordered[0]
    before_failure = ServerClock.read(api.conn)
    failed = api.finish(failing_user, failing_claim, False, "platform unavailable")
    after_failure = ServerClock.read(api.conn)
    assert (failed["state"], failed["attempts"], failed["last_error"]) == (
        "pending",
        1,
        "platform unavailable",
    )
    assert (failed["leased_by"], failed["leased_until"], failed["finished_at"]) == (None, None, None)
    # Due again after the first backoff, 5 s, on the server's clock.
    assert failed["available_at"] - before_failure.now >= timedelta(seconds=5)
    assert failed["available_at"] - after_failure.now <= timedelta(seconds=5)
    # Not due during the backoff: a lease does not hand it out.
    assert (failing_user, failing_claim) not in keys(api.lease(f"{cluster.run}-worker-late", 10_000))
    # A success reported later (the platform did deliver) makes it granted.
    late = api.finish(failing_user, failing_claim, True)
    assert (late["state"], late["attempts"], late["last_error"]) == ("granted", 1, "platform unavailable")
    assert late["finished_at"] is not None

    for user, claim_id in ordered[1:]:
        granted = api.finish(user, claim_id, True)
        assert (granted["state"], granted["attempts"], granted["leased_by"]) == ("granted", 1, None)
        assert granted["finished_at"] is not None
        assert granted["idempotency_key"] == f"{len(user)}:{user}:{claim_id}"
    # Idempotent: a second result for a granted grant changes nothing.
    user, claim_id = ordered[1]
    again = api.finish(user, claim_id, False, "late failure")
    assert (again["state"], again["last_error"]) == ("granted", None)
    states = api.rows(
        "SELECT user_id, claim_id, state FROM challenge.reward_grants WHERE user_id = ANY(%s)", [users]
    )
    assert {(r["user_id"], r["claim_id"], r["state"]) for r in states} == {(u, c, "granted") for u, c in mine}
    expect_error(lambda: api.finish(users[0], "no-such-claim", True), "CH003")

    # The other leased grants (earlier runs' claims) are delivered too, so the pool does not grow run by run.
    for user, claim_id in sorted(leased - mine):
        assert api.finish(user, claim_id, True)["state"] == "granted"
