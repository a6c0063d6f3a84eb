"""Helpers for the concurrency tests: a small config, raw SQL calls, and lock-wait polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def _goal(goal_id: str, target: int, *, type: str = "increment", default: bool = True) -> dict[str, Any]:
    return {
        "goalId": goal_id,
        "name": goal_id,
        "type": type,
        "daily": False,
        "eventSource": "statistic",
        "defaultAssigned": default,
        "requirement": {"statCode": "kills", "operator": ">=", "targetValue": target},
        "reward": {"type": "ITEM", "rewardId": "r", "quantity": 1},
        "prerequisites": [],
    }


CONFIG: dict[str, Any] = {
    "challenges": [
        {
            "challengeId": "race",
            "name": "Race",
            "goals": [
                _goal("count-a", 1_000_000),
                _goal("count-b", 1_000_000),
                _goal("count-c", 1_000_000),
                _goal("level", 1_000_000, type="absolute"),
                _goal("d-1", 5),
                _goal("d-2", 5),
                _goal("d-3", 5),
                _goal("d-4", 5),
                _goal("optional", 5, default=False),
            ],
        }
    ]
}
DEFAULT_GOALS = frozenset({"count-a", "count-b", "count-c", "level", "d-1", "d-2", "d-3", "d-4"})


def load(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT challenge.load_config(%s::jsonb)", [Jsonb(CONFIG)])


def inc(
    conn: psycopg.Connection[Any], user_id: str, goal_id: str, delta: int = 1, event_id: str | None = None
) -> str:
    record = conn.execute(
        "SELECT outcome FROM challenge.increment_progress(%s::text, %s::text, %s::integer, %s::text)",
        [user_id, goal_id, delta, event_id],
    ).fetchone()
    assert record is not None
    outcome: str = record[0]
    return outcome


def inc_batch(conn: psycopg.Connection[Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    record = conn.execute("SELECT challenge.increment_progress_batch(%s::jsonb)", [Jsonb(items)]).fetchone()
    assert record is not None
    result: dict[str, Any] = record[0]
    return result


def set_batch(conn: psycopg.Connection[Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    record = conn.execute("SELECT challenge.set_progress_batch(%s::jsonb)", [Jsonb(items)]).fetchone()
    assert record is not None
    result: dict[str, Any] = record[0]
    return result


def progress(conn: psycopg.Connection[Any], user_id: str, goal_id: str) -> int:
    record = conn.execute(
        "SELECT (challenge.get_progress(%s::text, %s::text)).progress", [user_id, goal_id]
    ).fetchone()
    assert record is not None
    value: int = record[0]
    return value


def backend_pid(conn: psycopg.Connection[Any]) -> int:
    return conn.info.backend_pid


def wait_until_blocked_or_done(
    observer: psycopg.Connection[Any], pid: int, done: threading.Event, timeout: float = 5.0
) -> bool:
    """Poll pg_stat_activity until backend ``pid`` waits on a lock (True) or its call finished (False).

    This is polling a condition, not sleeping as synchronisation: the caller proceeds on an observed state.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done.is_set():
            return False
        record = observer.execute(
            "SELECT wait_event_type FROM pg_catalog.pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
        if record is not None and record[0] == "Lock":
            return True
        time.sleep(0.005)
    raise AssertionError(f"backend {pid} neither blocked on a lock nor finished within {timeout}s")


def run_threads(count: int, work: Callable[[int], Any], timeout: float = 20.0) -> list[Any]:
    """Run work(i) for i in range(count) on threads started together; re-raise the first error."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a worker thread did not finish (hung on a lock?)"
    if errors:
        raise errors[0]
    return results
