"""pgchallenge.RewardWorker: leases grants, calls grant(reward) with the claim id as key, records results."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from pgchallenge import Client, GrantCounts, RewardGrant, RewardWorker

Connect = Callable[..., psycopg.Connection[Any]]


def claimed(client: Client, *users: str) -> list[str]:
    ids = []
    for user_id in users:
        client.initialize_player(user_id)
        client.increment_progress(user_id, "kill-3", 3)
        ids.append(client.claim_goal(user_id, "kill-3", f"claim-{user_id}").claim_id)
    return ids


def states(db: psycopg.Connection[Any]) -> dict[str, tuple[Any, ...]]:
    rows = db.execute("SELECT claim_id, state, attempts, last_error FROM challenge.reward_grants").fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def make_due(db: psycopg.Connection[Any]) -> None:
    db.execute("UPDATE challenge.reward_grants SET available_at = now() WHERE state = 'pending'")


def test_run_once_delivers_every_due_grant_with_the_player_and_claim_id_as_key(
    client: Client, db: psycopg.Connection[Any], connect: Connect
) -> None:
    ids = claimed(client, "u1", "u2", "u3")
    seen: list[RewardGrant] = []
    worker = RewardWorker(seen.append, connect(), worker_id="w1", batch_size=2)
    assert worker.run_once() == GrantCounts(leased=3, granted=3)
    assert sorted(r.idempotency_key for r in seen) == [f"2:u{i}:{c}" for i, c in enumerate(ids, 1)]
    assert {(r.user_id, r.reward_id, r.quantity) for r in seen} == {
        (u, "reward-kill-3", 1) for u in ("u1", "u2", "u3")
    }
    assert {s[0] for s in states(db).values()} == {"granted"}
    assert worker.run_once() == GrantCounts()


def test_a_failing_grant_is_retried_later_then_granted(
    client: Client, db: psycopg.Connection[Any], connect: Connect
) -> None:
    [claim_id] = claimed(client, "u1")
    calls: list[str] = []

    def flaky(reward: RewardGrant) -> None:
        calls.append(reward.claim_id)
        if len(calls) == 1:
            raise RuntimeError("platform returned 503")

    worker = RewardWorker(flaky, connect())
    assert worker.run_once() == GrantCounts(leased=1, retried=1)
    assert states(db)[claim_id] == ("pending", 1, "RuntimeError: platform returned 503")
    assert worker.run_once() == GrantCounts()  # backing off
    make_due(db)
    assert worker.run_once() == GrantCounts(leased=1, granted=1)
    assert calls == [claim_id, claim_id]
    assert states(db)[claim_id][:2] == ("granted", 2)


def test_a_grant_that_keeps_failing_is_left_failed(
    client: Client, db: psycopg.Connection[Any], connect: Connect
) -> None:
    [claim_id] = claimed(client, "u1")
    db.execute("UPDATE challenge.reward_grants SET max_attempts = 2")

    def broken(reward: RewardGrant) -> None:
        raise ValueError(f"invalid item {reward.reward_id}")

    worker = RewardWorker(broken, connect())
    assert worker.run_once().retried == 1
    make_due(db)
    assert worker.run_once() == GrantCounts(leased=1, failed=1)
    assert states(db)[claim_id] == ("failed", 2, "ValueError: invalid item reward-kill-3")
    make_due(db)
    assert worker.run_once() == GrantCounts()


def test_grants_whose_lease_is_about_to_end_are_left_for_the_next_lease(
    client: Client, db: psycopg.Connection[Any], connect: Connect
) -> None:
    claimed(client, "u1", "u2")
    calls: list[str] = []
    worker = RewardWorker(lambda r: calls.append(r.claim_id), connect(), lease=timedelta(microseconds=1))
    assert worker.run_once() == GrantCounts(leased=2, skipped=2)
    assert calls == []
    assert {s[:2] for s in states(db).values()} == {("pending", 1)}


def test_run_wakes_up_on_notify_and_stops(client: Client, db: psycopg.Connection[Any], db_url: str) -> None:
    delivered = threading.Event()
    seen: list[str] = []

    def grant(reward: RewardGrant) -> None:
        seen.append(reward.claim_id)
        delivered.set()

    stop = threading.Event()
    # A long poll interval: only the NOTIFY sent at the claim's commit can wake the worker in time.
    with RewardWorker(grant, database_url=db_url, poll_interval=600) as worker:
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        claimed(client, "u1")
        assert delivered.wait(10), "the worker did not wake up on NOTIFY"
        stop.set()
        thread.join(10)
        assert not thread.is_alive()
    assert seen == ["claim-u1"]
    assert worker.connection.closed


def test_worker_arguments_are_checked(db: psycopg.Connection[Any], connect: Connect) -> None:
    with pytest.raises(ValueError, match="autocommit"):
        RewardWorker(print, connect(autocommit=False))
    with pytest.raises(ValueError, match="batch_size"):
        RewardWorker(print, db, batch_size=0)
    with pytest.raises(ValueError, match="lease"):
        RewardWorker(print, db, lease=timedelta(0))
    with pytest.raises(ValueError, match="poll_interval"):
        RewardWorker(print, db, poll_interval=0)
    worker = RewardWorker(print, db)
    assert 0 < len(worker.worker_id) <= 100
    worker.close()
    assert not db.closed  # the caller's connection stays open


def test_the_old_name_of_grant_counts_still_imports() -> None:
    from pgchallenge import WorkerPass

    assert WorkerPass is GrantCounts
