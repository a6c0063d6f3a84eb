"""Claims and reward grants under concurrency, lost connections and crashed workers.

Every claimed goal must end with exactly one successful grant (or a visible failed one), never two. Threads
start together on a barrier, each on its own real connection.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from pgchallenge import RewardGrant, RewardWorker

from tests.concurrency.conchelpers import inc
from tests.threads import run_threads

Connect = Callable[..., psycopg.Connection[Any]]
THREADS = 20
BARRIER_TIMEOUT = 10.0


def complete(conn: psycopg.Connection[Any], user_id: str, goal_id: str = "d-1") -> None:
    conn.execute("SELECT challenge.initialize_player(%s)", [user_id])
    assert inc(conn, user_id, goal_id, 5) == "applied"


def claim(conn: psycopg.Connection[Any], user_id: str, goal_id: str, claim_id: str) -> tuple[Any, ...]:
    record = conn.execute(
        "SELECT claim_id, claimed_at, replayed FROM challenge.claim_goal(%s, %s, %s)",
        [user_id, goal_id, claim_id],
    ).fetchone()
    assert record is not None
    return tuple(record)


def grant_rows(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT claim_id, user_id, goal_id, state FROM challenge.reward_grants ORDER BY claim_id"
    ).fetchall()


class FakePlatform:
    """The game platform's side of exactly-once: it grants once per idempotency key."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.granted: Counter[str] = Counter()

    def grant(self, reward: RewardGrant) -> None:
        with self.lock:
            self.calls[reward.idempotency_key] += 1
            if reward.idempotency_key not in self.granted:
                self.granted[reward.idempotency_key] += 1


class WorkerDied(BaseException):
    """Stands for the worker process dying: not an Exception, so the worker records nothing."""


# --- one claim wins -----------------------------------------------------------------------------------------


def test_20_concurrent_claims_of_one_goal_make_one_claim_and_one_grant(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    complete(race_db, "u1")
    conns = [connect() for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> str:
        barrier.wait()
        try:
            claim(conns[i], "u1", "d-1", f"claim-{i}")
        except psycopg.Error as exc:
            return str(exc.sqlstate)
        return "claimed"

    outcomes = Counter(run_threads(THREADS, work))
    assert outcomes == {"claimed": 1, "CH022": THREADS - 1}
    [grant] = grant_rows(race_db)
    assert grant[1:] == ("u1", "d-1", "pending")
    status = race_db.execute("SELECT (challenge.get_progress('u1', 'd-1')).status").fetchone()
    assert status == ("claimed",)


def test_20_concurrent_retries_of_one_claim_id_return_one_original(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    complete(race_db, "u1")
    conns = [connect() for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> tuple[Any, ...]:
        barrier.wait()
        return claim(conns[i], "u1", "d-1", "the-claim")

    results = run_threads(THREADS, work)
    assert Counter(replayed for _, _, replayed in results) == {False: 1, True: THREADS - 1}
    assert len({(claim_id, claimed_at) for claim_id, claimed_at, _ in results}) == 1
    assert [row[0] for row in grant_rows(race_db)] == ["the-claim"]


def test_a_claim_retried_after_the_connection_dropped_is_replayed(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    complete(race_db, "u1")
    client = connect(autocommit=False)
    original = claim(client, "u1", "d-1", "claim-77")
    client.commit()
    # The connection dies before the game server saw the answer (here: after the commit).
    killer = connect()
    killer.execute("SELECT pg_terminate_backend(%s)", [client.info.backend_pid])
    with pytest.raises(psycopg.OperationalError):
        client.execute("SELECT 1")
    retried = claim(connect(), "u1", "d-1", "claim-77")
    assert retried == (original[0], original[1], True)
    assert [row[0] for row in grant_rows(race_db)] == ["claim-77"]


# --- the worker side: exactly one grant ---------------------------------------------------------------------


def test_a_worker_that_dies_mid_grant_is_replaced_and_the_reward_granted_once(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    complete(race_db, "u1")
    claim(race_db, "u1", "d-1", "claim-1")
    platform = FakePlatform()

    def grant_then_die(reward: RewardGrant) -> None:
        platform.grant(reward)  # the platform granted...
        raise WorkerDied  # ...and the worker died before recording it

    first = RewardWorker(grant_then_die, connect(), worker_id="w1")
    with pytest.raises(WorkerDied):
        first.run_once()
    assert grant_rows(race_db)[0][3] == "pending"
    # Nobody else can take it while w1's lease lasts.
    second = RewardWorker(platform.grant, connect(), worker_id="w2")
    assert second.run_once().leased == 0
    # w1's lease runs out (moved into the past rather than waited for); w2 leases the grant again.
    race_db.execute(
        "UPDATE challenge.reward_grants SET available_at = now() - interval '1 second',"
        " leased_until = now() - interval '1 second'"
    )
    done = second.run_once()
    assert (done.leased, done.granted) == (1, 1)
    # Same idempotency key both times, one grant on the platform, one granted row in the outbox.
    assert platform.calls == {"2:u1:claim-1": 2}  # the same key on both attempts: the player and claim id
    assert platform.granted == {"2:u1:claim-1": 1}
    assert grant_rows(race_db) == [("claim-1", "u1", "d-1", "granted")]
    attempts = race_db.execute("SELECT attempts, leased_by FROM challenge.reward_grants").fetchone()
    assert attempts == (2, None)


def test_two_workers_deliver_every_grant_exactly_once(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    users = [f"u{i:02d}" for i in range(40)]
    for user_id in users:
        complete(race_db, user_id)
        claim(race_db, user_id, "d-1", f"claim-{user_id}")
    platform = FakePlatform()
    workers = [RewardWorker(platform.grant, connect(), worker_id=f"w{i}", batch_size=3) for i in range(2)]
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> int:
        barrier.wait()
        return workers[i].run_once().granted

    assert sum(run_threads(2, work)) == 40
    assert platform.calls == dict.fromkeys((f"{len(u)}:{u}:claim-{u}" for u in users), 1)
    assert {row[3] for row in grant_rows(race_db)} == {"granted"}


def test_concurrent_selections_of_a_new_goal_do_not_collide(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    """B-6: the reference's first activation had no ON CONFLICT and failed with a unique violation."""
    conns = [connect() for _ in range(8)]
    barrier = threading.Barrier(8, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> int:
        barrier.wait()
        return len(
            conns[i]
            .execute(
                "SELECT * FROM challenge.select_goals('u1', 'race', ARRAY['optional', 'd-2', 'optional'])"
            )
            .fetchall()
        )

    assert run_threads(8, work) == [2] * 8
    count = race_db.execute("SELECT count(*) FROM challenge.progress WHERE user_id = 'u1'").fetchone()
    assert count == (2,)
