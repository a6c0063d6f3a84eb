"""Helpers for the event-ingestion tests: a catalog covering every routing case, and raw SQL calls."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


def goal(
    goal_id: str,
    *,
    source: str,
    stat: str,
    type: str = "increment",
    daily: bool = False,
    target: int = 1000,
    default: bool = True,
) -> dict[str, Any]:
    return {
        "goalId": goal_id,
        "name": goal_id,
        "type": type,
        "daily": daily,
        "eventSource": source,
        "defaultAssigned": default,
        "requirement": {"statCode": stat, "operator": ">=", "targetValue": target},
        "reward": {"type": "ITEM", "rewardId": f"r-{goal_id}", "quantity": 1},
        "prerequisites": [],
    }


# Every (event source x stat code x goal type) combination routing has to tell apart. The login goals
# carry stat codes too (the reference routed by stat code alone, so a "kills" stat ticked login goals).
GOALS = [
    goal("login-inc", source="login", stat="login"),
    goal("login-daily", source="login", stat="login", daily=True),
    goal("login-abs", source="login", stat="login", type="absolute"),
    goal("login-kills", source="login", stat="kills"),
    goal("kills-inc", source="statistic", stat="kills"),
    goal("kills-daily", source="statistic", stat="kills", daily=True),
    goal("kills-dtype", source="statistic", stat="kills", type="daily"),
    goal("kills-abs", source="statistic", stat="kills", type="absolute"),
    goal("level-abs", source="statistic", stat="level", type="absolute", target=20),
    goal("level-inc", source="statistic", stat="level", target=3),
    goal("kills-extra", source="statistic", stat="kills", default=False),
]
GOAL_IDS = [g["goalId"] for g in GOALS]
DEFAULT_GOAL_IDS = [g["goalId"] for g in GOALS if g["defaultAssigned"]]
CONFIG: dict[str, Any] = {"challenges": [{"challengeId": "events", "name": "Events", "goals": GOALS}]}


def load(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT challenge.load_config(%s::jsonb)", [Jsonb(CONFIG)])


def init(conn: psycopg.Connection[Any], *user_ids: str) -> None:
    for user_id in user_ids:
        conn.execute("SELECT count(*) FROM challenge.initialize_player(%s::text)", [user_id])


def record(conn: psycopg.Connection[Any], events: list[dict[str, Any]] | Any) -> dict[str, Any]:
    row = conn.execute("SELECT challenge.record_events(%s::jsonb)", [Jsonb(events)]).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    return result


def login(event_id: str, user_id: str = "u1", **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "user_id": user_id, "kind": "login", **extra}


def stat(event_id: str, stat_code: str, user_id: str = "u1", **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "user_id": user_id, "kind": "statistic", "stat_code": stat_code, **extra}


def progresses(conn: psycopg.Connection[Any], user_id: str = "u1") -> dict[str, int]:
    """The player's non-zero progress by goal."""
    rows = conn.execute(
        "SELECT goal_id, progress FROM challenge.get_user_progress(%s::text) WHERE progress > 0", [user_id]
    ).fetchall()
    return {goal_id: progress for goal_id, progress in rows}


def table_state(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Every progress row, every column: to show a call changed nothing at all."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM challenge.progress ORDER BY user_id, goal_id").fetchall()


def remembered(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM challenge.processed_events").fetchone()
    assert row is not None
    count: int = row[0]
    return count


def skipped(result: dict[str, Any]) -> dict[str, int]:
    """The non-zero skip counts of a result."""
    return {key: value for key, value in result["skipped"].items() if value}
