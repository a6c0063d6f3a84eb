"""Several real connections at once: no lost update, no deadlock, exactly-once event ids, safe assignment.

Threads start together on a threading.Barrier; the deterministic variants hold one transaction open, wait
(by polling pg_stat_activity) until the other connection is blocked on it, then commit or roll back.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.concurrency.conchelpers import (
    DEFAULT_GOALS,
    apply_batch_plans,
    backend_pid,
    inc,
    inc_batch,
    progress,
    set_batch,
)
from tests.threads import run_threads
from tests.waits import blocked_call

Connect = Callable[..., psycopg.Connection[Any]]
THREADS = 8
BARRIER_TIMEOUT = 10.0


def open_connections(connect: Connect, count: int) -> list[psycopg.Connection[Any]]:
    return [connect() for _ in range(count)]


# --- no lost update --------------------------------------------------------------------------------------


def test_single_increments_from_8_threads_sum_exactly(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    race_db.execute("SELECT challenge.initialize_player('u1')")
    conns = open_connections(connect, THREADS)
    barrier = threading.Barrier(THREADS, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> list[str]:
        barrier.wait()
        return [inc(conns[i], "u1", "count-a", 1 + (n % 2)) for n in range(50)]

    outcomes = run_threads(THREADS, work)
    assert all(o == "applied" for per_thread in outcomes for o in per_thread)
    assert progress(race_db, "u1", "count-a") == THREADS * (25 * 1 + 25 * 2)


def test_batches_on_the_same_3_rows_sum_exactly(race_db: psycopg.Connection[Any], connect: Connect) -> None:
    race_db.execute("SELECT challenge.initialize_player('u1')")
    goals = ["count-a", "count-b", "count-c"]
    conns = open_connections(connect, THREADS)
    expected: Counter[str] = Counter()
    plans: list[list[list[dict[str, Any]]]] = []
    for i in range(THREADS):
        batches = []
        for b in range(10):
            items: list[dict[str, Any]] = []
            for j in range(20):
                goal_id, delta = goals[(i + b + j) % 3], 1 + (j % 4)
                expected[goal_id] += delta
                items.append({"user_id": "u1", "goal_id": goal_id, "delta": delta})
            batches.append(items)
        plans.append(batches)

    applied = apply_batch_plans(conns, plans)
    assert all(a == 20 for per_thread in applied for a in per_thread)
    for goal_id in goals:
        assert progress(race_db, "u1", goal_id) == expected[goal_id], goal_id


def test_batches_across_users_on_shared_goal_sum_exactly(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    race_db.execute("SELECT challenge.initialize_player('u' || i) FROM generate_series(1, 4) AS i")
    conns = open_connections(connect, 4)
    barrier = threading.Barrier(4, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> None:
        barrier.wait()
        for _ in range(15):
            inc_batch(
                conns[i],
                [{"user_id": f"u{1 + (i + k) % 4}", "goal_id": "count-a", "delta": k + 1} for k in range(4)],
            )

    run_threads(4, work)
    for user in range(1, 5):
        assert progress(race_db, f"u{user}", "count-a") == 15 * (
            1 + 2 + 3 + 4
        )  # one item per thread per round


def _write(conn: psycopg.Connection[Any], how: str, value: int) -> str:
    """Add ``value`` to (u1, count-a), or for "set" write it as the absolute value of (u1, level)."""
    if how == "single":
        return inc(conn, "u1", "count-a", value)
    if how == "batch":
        result = inc_batch(conn, [{"user_id": "u1", "goal_id": "count-a", "delta": value}])
    else:
        result = set_batch(conn, [{"user_id": "u1", "goal_id": "level", "value": value}])
    if result["applied"] == 1:
        return "applied"
    skipped: str = next(k for k, v in result["skipped"].items() if v == 1)
    return skipped


@pytest.mark.parametrize("second_how", ["single", "batch"])
@pytest.mark.parametrize("first_how", ["single", "batch"])
def test_write_waiting_on_a_locked_row_adds_to_the_committed_value(
    race_db: psycopg.Connection[Any], connect: Connect, first_how: str, second_how: str
) -> None:
    """Deterministic lost-update check: the second write waits for the first and builds on its result."""
    race_db.execute("SELECT challenge.initialize_player('u1')")
    inc(race_db, "u1", "count-a", 5)
    first = connect(autocommit=False)
    second = connect()
    observer = connect()
    assert _write(first, first_how, 10) == "applied"  # row locked, transaction open
    outcome = blocked_call(
        lambda: _write(second, second_how, 100),
        observer=observer,
        pid=backend_pid(second),
        release=first.commit,
    )
    assert outcome == "applied"
    assert progress(race_db, "u1", "count-a") == 115


def test_set_waiting_on_a_locked_row_is_applied(race_db: psycopg.Connection[Any], connect: Connect) -> None:
    race_db.execute("SELECT challenge.initialize_player('u1')")
    first = connect(autocommit=False)
    second = connect()
    observer = connect()
    assert _write(first, "set", 10) == "applied"
    outcome = blocked_call(
        lambda: _write(second, "set", 20), observer=observer, pid=backend_pid(second), release=first.commit
    )
    # The second call's occurred_at (its now()) is later than the first's: it applies.
    assert outcome == "applied"
    assert progress(race_db, "u1", "level") == 20


# --- deterministic lock order: no deadlock ----------------------------------------------------------------


def _keys() -> list[tuple[str, str]]:
    return [(f"u{n:03d}", g) for n in range(100) for g in ("count-a", "count-b")]  # 200 keys


@pytest.mark.parametrize("fn", ["increment", "set"])
def test_opposite_order_batches_never_deadlock(
    race_db: psycopg.Connection[Any], connect: Connect, fn: str
) -> None:
    users = 100 if fn == "increment" else 200  # 100 users x 2 goals, or 200 users x 1 goal: 200 keys
    race_db.execute(
        "SELECT challenge.initialize_player('u' || lpad(i::text, 3, '0')) FROM generate_series(0, %s) AS i",
        [users - 1],
    )
    ascending: list[dict[str, Any]]
    if fn == "increment":
        ascending = [{"user_id": u, "goal_id": g} for u, g in _keys()]
    else:
        ascending = [{"user_id": f"u{n:03d}", "goal_id": "level", "value": n} for n in range(200)]
    orders = [ascending, list(reversed(ascending))]
    conns = open_connections(connect, 2)
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    deadlocks: list[BaseException] = []

    def work(i: int) -> list[int]:
        totals = []
        for _ in range(30):
            barrier.wait()
            try:
                result = (
                    inc_batch(conns[i], orders[i]) if fn == "increment" else set_batch(conns[i], orders[i])
                )
            except psycopg.errors.DeadlockDetected as exc:
                deadlocks.append(exc)
                raise
            totals.append(result["applied"] + sum(result["skipped"].values()))
        return totals

    totals = run_threads(2, work)
    assert deadlocks == []
    assert all(t == len(ascending) for per_thread in totals for t in per_thread)
    if fn == "increment":
        wrong = race_db.execute(
            "SELECT user_id, goal_id, progress FROM challenge.progress"
            " WHERE goal_id IN ('count-a', 'count-b') AND progress <> 60"
        ).fetchall()
        assert wrong == []
        count = race_db.execute(
            "SELECT count(*) FROM challenge.progress WHERE goal_id IN ('count-a', 'count-b')"
        ).fetchone()
        assert count == (200,)


# --- exactly-once event ids --------------------------------------------------------------------------------


# An event id is unique within its player: "different rows" are two goals of one player.
@pytest.mark.parametrize("same_row", [True, False], ids=["same-row", "different-rows"])
@pytest.mark.parametrize("api", ["single", "batch"])
@pytest.mark.parametrize("first_commits", [True, False], ids=["first-commits", "first-rolls-back"])
def test_same_event_id_from_two_connections_applies_once(
    race_db: psycopg.Connection[Any], connect: Connect, same_row: bool, api: str, first_commits: bool
) -> None:
    race_db.execute("SELECT challenge.initialize_player('u1')")
    race_db.execute("SELECT challenge.initialize_player('u2')")
    first = connect(autocommit=False)
    second = connect()
    observer = connect()
    second_key = ("u1", "count-a") if same_row else ("u1", "count-b")

    def send(conn: psycopg.Connection[Any], user_id: str, goal_id: str) -> str:
        if api == "single":
            return inc(conn, user_id, goal_id, 1, "evt-1")
        result = inc_batch(conn, [{"user_id": user_id, "goal_id": goal_id, "event_id": "evt-1"}])
        if result["applied"] == 1:
            return "applied"
        skipped: str = next(k for k, v in result["skipped"].items() if v == 1)
        return skipped

    assert send(first, "u1", "count-a") == "applied"  # transaction still open
    # Any correct implementation must wait: the first transaction may still commit or roll back.
    outcome = blocked_call(
        lambda: send(second, *second_key),
        observer=observer,
        pid=backend_pid(second),
        release=first.commit if first_commits else first.rollback,
    )
    assert outcome == ("duplicate_event" if first_commits else "applied")
    total = progress(race_db, "u1", "count-a") + progress(race_db, "u1", "count-b")
    assert total == 1
    assert race_db.execute(
        "SELECT count(*) FROM challenge.processed_events WHERE event_id = 'evt-1'"
    ).fetchone() == (1,)


def test_event_ids_raced_by_threads_apply_once_each(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    # One player's event ids (unique within the player), sent to two of its goals by four threads.
    race_db.execute("SELECT challenge.initialize_player('u1')")
    conns = open_connections(connect, 4)
    barrier = threading.Barrier(4, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> list[str]:
        outcomes = []
        goal_id = "count-a" if i < 2 else "count-b"
        for n in range(25):
            barrier.wait()
            if i % 2 == 0:
                outcomes.append(inc(conns[i], "u1", goal_id, 1, f"race-{n}"))
            else:
                result = inc_batch(conns[i], [{"user_id": "u1", "goal_id": goal_id, "event_id": f"race-{n}"}])
                outcomes.append("applied" if result["applied"] else "duplicate_event")
        return outcomes

    per_thread = run_threads(4, work)
    for n in range(25):
        assert sorted(t[n] for t in per_thread) == ["applied"] + ["duplicate_event"] * 3, n
    total = race_db.execute(
        "SELECT sum(progress) FROM challenge.progress"
        " WHERE user_id = 'u1' AND goal_id IN ('count-a', 'count-b')"
    ).fetchone()
    assert total == (25,)


# --- concurrent assignment ------------------------------------------------------------------------------


def test_initialize_player_from_8_threads(race_db: psycopg.Connection[Any], connect: Connect) -> None:
    conns = open_connections(connect, THREADS)
    barrier = threading.Barrier(THREADS, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> list[set[str]]:
        returned = []
        for n in range(10):
            barrier.wait()
            rows = (
                conns[i]
                .execute("SELECT goal_id FROM challenge.initialize_player(%s::text)", [f"p{n}"])
                .fetchall()
            )
            returned.append({r[0] for r in rows})
        return returned

    results = run_threads(THREADS, work)
    for per_thread in results:
        assert all(goals == DEFAULT_GOALS for goals in per_thread)
    counts = race_db.execute(
        "SELECT user_id, count(*), count(DISTINCT goal_id) FROM challenge.progress"
        " GROUP BY user_id ORDER BY user_id"
    ).fetchall()
    assert counts == [(f"p{n}", len(DEFAULT_GOALS), len(DEFAULT_GOALS)) for n in range(10)]


def test_initialize_player_waits_for_an_open_initialize(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    first = connect(autocommit=False)
    second = connect()
    observer = connect()
    first.execute("SELECT * FROM challenge.initialize_player('u1')")

    def second_call() -> set[str]:
        rows = second.execute("SELECT goal_id FROM challenge.initialize_player('u1')").fetchall()
        return {r[0] for r in rows}

    # Any correct implementation must wait: the first transaction may still commit or roll back.
    returned = blocked_call(second_call, observer=observer, pid=backend_pid(second), release=first.commit)
    assert returned == DEFAULT_GOALS
    count = race_db.execute("SELECT count(*) FROM challenge.progress WHERE user_id = 'u1'").fetchone()
    assert count == (len(DEFAULT_GOALS),)


def test_set_goal_active_same_new_row_from_8_threads(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    conns = open_connections(connect, THREADS)
    barrier = threading.Barrier(THREADS, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> list[bool]:
        states = []
        for n in range(10):
            barrier.wait()
            record = (
                conns[i]
                .execute(
                    "SELECT (challenge.set_goal_active(%s::text, 'optional', %s::boolean)).is_active",
                    [f"s{n}", n % 2 == 0 or i % 2 == 0],
                )
                .fetchone()
            )
            assert record is not None
            states.append(bool(record[0]))
        return states

    run_threads(THREADS, work)
    counts = race_db.execute(
        "SELECT count(*), count(DISTINCT user_id) FROM challenge.progress WHERE goal_id = 'optional'"
    ).fetchone()
    assert counts == (10, 10)


def test_set_goal_active_waits_for_an_open_insert(race_db: psycopg.Connection[Any], connect: Connect) -> None:
    first = connect(autocommit=False)
    second = connect()
    observer = connect()
    first.execute("SELECT challenge.set_goal_active('u1', 'optional', false)")
    # Any correct implementation must wait: the first transaction may still commit or roll back.
    returned = blocked_call(
        lambda: second.execute(
            "SELECT (challenge.set_goal_active('u1', 'optional', true)).is_active"
        ).fetchone(),
        observer=observer,
        pid=backend_pid(second),
        release=first.commit,
    )
    assert returned == (True,)
    row = race_db.execute(
        "SELECT count(*), bool_and(is_active) FROM challenge.progress"
        " WHERE user_id = 'u1' AND goal_id = 'optional'"
    ).fetchone()
    assert row == (1, True)
