"""Helpers for the SQL contract tests (raw SQL through psycopg, no client).

``api`` wraps a test database with the challenge config of ``CONFIG`` already loaded; ``bare_api`` is the same
wrapper over a database with no config. Each helper is one SQL call, written out so a failing test shows the
exact statement. Tests touch the private tables only to set up states no public function creates yet (a
claimed row) and to snapshot them.
"""

from __future__ import annotations

import copy
import enum
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

Row = dict[str, Any]

GOAL_PROGRESS_COLUMNS = [
    "user_id",
    "goal_id",
    "challenge_id",
    "namespace",
    "progress",
    "target",
    "status",
    "is_active",
    "assigned_at",
    "completed_at",
    "claimed_at",
    "expires_at",
    "updated_at",
]

SKIPPED_KEYS = frozenset(
    {
        "inactive",
        "not_assigned",
        "claimed",
        "unknown_goal",
        "duplicate_event",
        "already_counted_today",
        "stale_event",
        "type_mismatch",
    }
)


def goal(
    goal_id: str,
    *,
    type: str | None = "increment",
    target: Any = 10,
    stat: str = "kills",
    source: str = "statistic",
    daily: bool = False,
    default: bool = True,
    prerequisites: Sequence[str] = (),
    rotation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One goal of a config document, in the reference's camelCase shape."""
    doc: dict[str, Any] = {
        "goalId": goal_id,
        "name": f"Goal {goal_id}",
        "description": f"Description of {goal_id}",
        "daily": daily,
        "eventSource": source,
        "defaultAssigned": default,
        "requirement": {
            "statCode": stat,
            "operator": ">=",
            "targetValue": target,
            "progressMode": "absolute",
        },
        "reward": {"type": "ITEM", "rewardId": f"reward-{goal_id}", "quantity": 1},
        "prerequisites": list(prerequisites),
    }
    if type is not None:
        doc["type"] = type
    if rotation is not None:
        doc["rotation"] = dict(rotation)
    return doc


def rotation(
    schedule: str, *, reset: bool = True, reselect: bool = False, enabled: bool = True
) -> dict[str, Any]:
    """A goal's rotation block: its schedule and what expiry does (reset the progress, allow reselection)."""
    return {
        "enabled": enabled,
        "schedule": schedule,
        "onExpiry": {"resetProgress": reset, "allowReselection": reselect},
    }


def challenge(
    challenge_id: str, goals: Sequence[Mapping[str, Any]], name: str | None = None
) -> dict[str, Any]:
    return {
        "challengeId": challenge_id,
        "name": name or f"Challenge {challenge_id}",
        "description": f"Description of {challenge_id}",
        "goals": [dict(g) for g in goals],
    }


# Goal indexes matter: validation tests name JSON paths such as challenges[0].goals[2].
WINTER_GOALS = [
    goal("kill-10", type="increment", target=10, stat="kills"),  # goals[0]
    goal("login-daily", type="increment", daily=True, target=7, stat="login", source="login"),  # goals[1]
    goal("reach-lvl-20", type="absolute", target=20, stat="level"),  # goals[2]
    goal("play-3", type="daily", target=3, stat="matches"),  # goals[3]
    goal("not-default", type="increment", target=5, default=False),  # goals[4]
]
SPRING_GOALS = [
    goal(
        "spring-login",
        type="increment",
        target=1,
        stat="login",
        source="login",
        rotation=rotation("weekly", enabled=False),
    ),  # goals[0]
    goal(
        "spring-boss", type="absolute", target=5, stat="boss", default=False, prerequisites=["spring-login"]
    ),
]
CONFIG: dict[str, Any] = {
    "challenges": [
        challenge("winter", WINTER_GOALS, name="Winter Challenge"),
        challenge("spring", SPRING_GOALS, name="Spring Challenge"),
    ]
}
DEFAULT_GOALS = frozenset({"kill-10", "login-daily", "reach-lvl-20", "play-3", "spring-login"})
ALL_GOALS = DEFAULT_GOALS | {"not-default", "spring-boss"}


def config() -> dict[str, Any]:
    """A fresh deep copy of CONFIG, for tests that mutate it."""
    return copy.deepcopy(CONFIG)


class Omit(enum.Enum):
    """Marks an argument left out of a call, so that the SQL default applies (None sends NULL)."""

    OMIT = 0


OMIT = Omit.OMIT


class Api:
    """One method per SQL function, each one raw SQL statement."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[Row]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def row(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Row:
        result = self.rows(sql, params)
        assert len(result) == 1, result
        return result[0]

    def scalar(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        cur = self.conn.execute(sql, params)
        record = cur.fetchone()
        assert record is not None
        return record[0]

    # --- catalog -------------------------------------------------------------------------------------
    def load(self, document: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.scalar("SELECT challenge.load_config(%s::jsonb)", [Jsonb(document)])
        return result

    # --- assignment ----------------------------------------------------------------------------------
    def init(self, user_id: str, namespace: str | Omit = OMIT) -> list[Row]:
        if namespace is OMIT:
            return self.rows("SELECT * FROM challenge.initialize_player(%s::text)", [user_id])
        return self.rows(
            "SELECT * FROM challenge.initialize_player(%s::text, %s::text)", [user_id, namespace]
        )

    def set_active(
        self, user_id: str, goal_id: str, active: bool = True, namespace: str | Omit = OMIT
    ) -> Row:
        if namespace is OMIT:
            return self.row(
                "SELECT (challenge.set_goal_active(%s::text, %s::text, %s::boolean)).*",
                [user_id, goal_id, active],
            )
        return self.row(
            "SELECT (challenge.set_goal_active(%s::text, %s::text, %s::boolean, %s::text)).*",
            [user_id, goal_id, active, namespace],
        )

    # --- reads ---------------------------------------------------------------------------------------
    def get_raw(self, user_id: str, goal_id: str) -> Row:
        return self.row("SELECT (challenge.get_progress(%s::text, %s::text)).*", [user_id, goal_id])

    def get(self, user_id: str, goal_id: str) -> Row | None:
        """The row, or None when get_progress returns NULL (every column NULL)."""
        result = self.get_raw(user_id, goal_id)
        if all(value is None for value in result.values()):
            return None
        return result

    def must_get(self, user_id: str, goal_id: str) -> Row:
        result = self.get(user_id, goal_id)
        assert result is not None, f"no progress row for ({user_id}, {goal_id})"
        return result

    def user_progress(
        self,
        user_id: str,
        active_only: bool | Omit = OMIT,
        challenge_id: str | Omit | None = OMIT,
    ) -> list[Row]:
        args = ["p_user_id => %(user_id)s::text"]
        params: dict[str, Any] = {"user_id": user_id}
        if active_only is not OMIT:
            args.append("p_active_only => %(active_only)s::boolean")
            params["active_only"] = active_only
        if challenge_id is not OMIT:
            args.append("p_challenge_id => %(challenge_id)s::text")
            params["challenge_id"] = challenge_id
        return self.rows(f"SELECT * FROM challenge.get_user_progress({', '.join(args)})", params)

    # --- writes --------------------------------------------------------------------------------------
    def inc(
        self,
        user_id: str | None,
        goal_id: str | None,
        delta: int | Omit | None = OMIT,
        event_id: str | Omit | None = OMIT,
        occurred_at: datetime | str | Omit | None = OMIT,
    ) -> Row:
        """challenge.increment_progress; only the arguments given are passed (named notation)."""
        args = ["p_user_id => %(user_id)s::text", "p_goal_id => %(goal_id)s::text"]
        params: dict[str, Any] = {"user_id": user_id, "goal_id": goal_id}
        if delta is not OMIT:
            args.append("p_delta => %(delta)s::integer")
            params["delta"] = delta
        if event_id is not OMIT:
            args.append("p_event_id => %(event_id)s::text")
            params["event_id"] = event_id
        if occurred_at is not OMIT:
            args.append("p_occurred_at => %(occurred_at)s::timestamptz")
            params["occurred_at"] = occurred_at
        return self.row(f"SELECT * FROM challenge.increment_progress({', '.join(args)})", params)

    def inc_batch(self, items: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.scalar(
            "SELECT challenge.increment_progress_batch(%s::jsonb)", [Jsonb(items)]
        )
        return result

    def set_batch(self, items: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.scalar("SELECT challenge.set_progress_batch(%s::jsonb)", [Jsonb(items)])
        return result

    # --- setup and inspection of private tables ------------------------------------------------------
    def make_claimed(self, user_id: str, goal_id: str) -> None:
        """There is no claim function yet: mark a row claimed directly (setup only)."""
        cur = self.conn.execute(
            "UPDATE challenge.progress AS p"
            " SET status = 'claimed', claimed_at = now(), completed_at = coalesce(p.completed_at, now()),"
            " progress = greatest(p.progress, g.target)"
            " FROM challenge.goals AS g"
            " WHERE g.goal_id = p.goal_id AND p.user_id = %s AND p.goal_id = %s",
            [user_id, goal_id],
        )
        assert cur.rowcount == 1

    def snapshot(self) -> tuple[list[Row], list[Row]]:
        progress = self.rows("SELECT * FROM challenge.progress ORDER BY user_id, goal_id")
        events = self.rows("SELECT * FROM challenge.processed_events ORDER BY event_id")
        return progress, events

    def catalog(self) -> tuple[list[Row], list[Row]]:
        challenges = self.rows("SELECT * FROM challenge.challenges ORDER BY challenge_id")
        goals = self.rows("SELECT * FROM challenge.goals ORDER BY goal_id")
        return challenges, goals

    def now(self) -> datetime:
        value: datetime = self.scalar("SELECT now()")
        return value


def batch_total(result: Mapping[str, Any]) -> int:
    """applied + sum(skipped): must equal the number of items."""
    return int(result["applied"]) + sum(int(v) for v in result["skipped"].values())


def completed_pairs(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    return sorted((c["user_id"], c["goal_id"]) for c in result["completed"])


def skipped(**counts: int) -> dict[str, int]:
    """The full skipped object: every key present, zero unless given."""
    unknown = set(counts) - SKIPPED_KEYS
    assert not unknown, unknown
    return {key: counts.get(key, 0) for key in sorted(SKIPPED_KEYS)}


def outcome_of(result: Mapping[str, Any]) -> str:
    """The single outcome of a one-item batch."""
    assert batch_total(result) == 1, result
    if result["applied"] == 1:
        return "applied"
    outcome: str = next(key for key, value in result["skipped"].items() if value == 1)
    return outcome


def assert_sqlstate(exc: BaseException, sqlstate: str) -> psycopg.Error:
    assert isinstance(exc, psycopg.Error), repr(exc)
    assert exc.sqlstate == sqlstate, f"expected SQLSTATE {sqlstate}, got {exc.sqlstate}: {exc}"
    return exc


def detail_names_item(exc: psycopg.Error, index: int) -> bool:
    detail = exc.diag.message_detail or ""
    return re.search(rf"\bitem {index}\b", detail) is not None
