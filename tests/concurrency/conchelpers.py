"""Helpers for the concurrency tests: a small config and raw SQL calls.

Lock-wait polling is in tests/waits.py, running calls on threads in tests/threads.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tests.threads import run_threads


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


def apply_batch_plans(
    conns: Sequence[psycopg.Connection[Any]], plans: Sequence[Sequence[list[dict[str, Any]]]]
) -> list[list[int]]:
    """Thread i sends the batches ``plans[i]`` (increment_progress_batch) on ``conns[i]``, the threads
    starting together; returns each thread's applied counts, batch by batch."""

    def work(i: int) -> list[int]:
        return [inc_batch(conns[i], items)["applied"] for items in plans[i]]

    return run_threads(len(plans), work, barrier=True)
