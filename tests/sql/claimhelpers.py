"""Helpers for the claim, outbox, selection and maintenance contract tests (raw SQL, no client).

``QUEST_CONFIG`` has two challenges, so prerequisites can cross them: ``q-win`` needs ``q-kill`` (same
challenge) and ``l-login`` (the other one). Each helper is one SQL statement. Tests touch the private tables
only to set up states no public function creates yet (an expiry date, a lease that has run out).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.sql.sqlhelpers import OMIT, Api, Omit, Row, challenge, goal


def rewarded(goal_doc: dict[str, Any], reward_type: str, reward_id: str, quantity: int) -> dict[str, Any]:
    goal_doc["reward"] = {"type": reward_type, "rewardId": reward_id, "quantity": quantity}
    return goal_doc


QUEST_GOALS = [
    goal("q-kill", target=2),
    goal("q-win", target=1, prerequisites=["q-kill", "l-login"]),
    rewarded(goal("q-gold", target=1, default=False), "WALLET", "gold", 50),
    goal("q-boss", target=1, default=False),
    goal("q-after-boss", target=1, default=False, prerequisites=["q-boss"]),
]
LOGIN_GOALS = [goal("l-login", target=1, stat="login", source="login")]
QUEST_CONFIG: dict[str, Any] = {
    "challenges": [challenge("quests", QUEST_GOALS), challenge("logins", LOGIN_GOALS)],
}
QUEST_GOAL_IDS = frozenset({"q-kill", "q-win", "q-gold", "q-boss", "q-after-boss"})
TARGETS = {"q-kill": 2, "q-win": 1, "q-gold": 1, "q-boss": 1, "q-after-boss": 1, "l-login": 1}

CLAIM_COLUMNS = [
    "claim_id",
    "user_id",
    "goal_id",
    "reward_type",
    "reward_id",
    "quantity",
    "claimed_at",
    "replayed",
]
GRANT_COLUMNS = [
    "claim_id",
    "user_id",
    "goal_id",
    "namespace",
    "reward_type",
    "reward_id",
    "quantity",
    "claimed_at",
    "state",
    "attempts",
    "max_attempts",
    "available_at",
    "leased_by",
    "leased_until",
    "last_error",
    "finished_at",
    "idempotency_key",
]


class QuestApi(Api):
    """Api plus the functions of issue 4."""

    def complete(self, user_id: str, goal_id: str) -> None:
        """Assign (if needed) and complete a goal through the public functions."""
        self.set_active(user_id, goal_id, True)
        result = self.inc(user_id, goal_id, TARGETS[goal_id])
        assert result["status"] == "completed", result

    def claim(self, user_id: str | None, goal_id: str | None, claim_id: str | Omit | None = OMIT) -> Row:
        if claim_id is OMIT:
            return self.row("SELECT * FROM challenge.claim_goal(%s::text, %s::text)", [user_id, goal_id])
        return self.row(
            "SELECT * FROM challenge.claim_goal(%s::text, %s::text, %s::text)", [user_id, goal_id, claim_id]
        )

    def lease(self, worker: str, limit: int = 10, lease: timedelta | Omit | None = OMIT) -> list[Row]:
        if lease is OMIT:
            return self.rows(
                "SELECT * FROM challenge.lease_reward_grants(%s::text, %s::integer)", [worker, limit]
            )
        return self.rows(
            "SELECT * FROM challenge.lease_reward_grants(%s::text, %s::integer, %s::interval)",
            [worker, limit, lease],
        )

    def finish(
        self,
        claim_id: str,
        granted: bool | None,
        error: str | Omit | None = OMIT,
        *,
        user_id: str | None = None,
    ) -> Row:
        """finish_reward_grant of the player's claim; the player is looked up when the claim id has one."""
        if user_id is None:
            owners = self.rows("SELECT user_id FROM challenge.reward_grants WHERE claim_id = %s", [claim_id])
            user_id = owners[0]["user_id"] if len(owners) == 1 else "nobody"
        if error is OMIT:
            return self.row(
                "SELECT * FROM challenge.finish_reward_grant(%s::text, %s::text, %s::boolean)",
                [user_id, claim_id, granted],
            )
        return self.row(
            "SELECT * FROM challenge.finish_reward_grant(%s::text, %s::text, %s::boolean, %s::text)",
            [user_id, claim_id, granted, error],
        )

    def grants(self) -> list[Row]:
        return self.rows("SELECT * FROM challenge.reward_grants ORDER BY claimed_at, claim_id")

    def grant(self, claim_id: str) -> Row:
        return self.row("SELECT * FROM challenge.reward_grants WHERE claim_id = %s", [claim_id])

    def expire_leases(self) -> None:
        """Let every current lease run out (as if its time had passed), without sleeping."""
        self.conn.execute(
            "UPDATE challenge.reward_grants"
            " SET available_at = now() - interval '1 second', leased_until = now() - interval '1 second'"
            " WHERE state = 'pending' AND leased_until IS NOT NULL"
        )

    def make_due(self) -> None:
        """End every retry backoff now (as if its time had passed)."""
        self.conn.execute(
            "UPDATE challenge.reward_grants SET available_at = now() - interval '1 second'"
            " WHERE state = 'pending'"
        )

    def select(
        self, user_id: str, challenge_id: str, goal_ids: list[str] | None, replace: bool | Omit = OMIT
    ) -> list[Row]:
        if replace is OMIT:
            return self.rows(
                "SELECT * FROM challenge.select_goals(%s::text, %s::text, %s::text[])",
                [user_id, challenge_id, goal_ids],
            )
        return self.rows(
            "SELECT * FROM challenge.select_goals(%s::text, %s::text, %s::text[], %s::boolean)",
            [user_id, challenge_id, goal_ids, replace],
        )

    def random_select(
        self,
        user_id: str,
        challenge_id: str,
        count: int | None,
        *,
        replace: bool | Omit = OMIT,
        exclude_active: bool | Omit = OMIT,
        seed: str | Omit | None = OMIT,
    ) -> list[Row]:
        args = [
            "p_user_id => %(user_id)s::text",
            "p_challenge_id => %(challenge_id)s::text",
            "p_count => %(count)s::integer",
        ]
        params: dict[str, Any] = {"user_id": user_id, "challenge_id": challenge_id, "count": count}
        for name, value, sql_type in (
            ("replace_existing", replace, "boolean"),
            ("exclude_active", exclude_active, "boolean"),
            ("seed", seed, "text"),
        ):
            if value is not OMIT:
                args.append(f"p_{name} => %({name})s::{sql_type}")
                params[name] = value
        return self.rows(f"SELECT * FROM challenge.random_select_goals({', '.join(args)})", params)

    def active_goals(self, user_id: str) -> set[str]:
        return {r["goal_id"] for r in self.user_progress(user_id, active_only=True)}

    def maintenance_call(self, function: str, age_name: str, age: Any, batch_size: Any) -> int:
        """``challenge.<function>`` with only the arguments given (OMIT leaves the SQL default in place)."""
        args: list[str] = []
        params: list[Any] = []
        for name, value, sql_type in ((age_name, age, "interval"), ("batch_size", batch_size, "integer")):
            if value is not OMIT:
                args.append(f"p_{name} => %s::{sql_type}")
                params.append(value)
        count: int = self.scalar(f"SELECT challenge.{function}({', '.join(args)})", params)
        return count

    def delete_expired(self, retention: timedelta | Omit = OMIT, batch_size: int | Omit = OMIT) -> int:
        return self.maintenance_call("delete_expired_progress", "retention", retention, batch_size)

    def prune_events(self, older_than: timedelta | Omit = OMIT, batch_size: int | Omit = OMIT) -> int:
        return self.maintenance_call("prune_processed_events", "older_than", older_than, batch_size)

    def delete_user(self, user_id: str | None) -> int:
        deleted: int = self.scalar("SELECT challenge.delete_user_data(%s::text)", [user_id])
        return deleted

    def set_expires_at(self, user_id: str, goal_id: str, age: timedelta | None) -> None:
        """expires_at = now() - age (rotation, which sets it, is not built yet); None clears it."""
        cur = self.conn.execute(
            "UPDATE challenge.progress SET expires_at = now() - %s::interval"
            " WHERE user_id = %s AND goal_id = %s",
            [age, user_id, goal_id],
        )
        assert cur.rowcount == 1

    def table_rows(self) -> dict[str, list[Row]]:
        """Every row of every table, for "nothing changed" assertions."""
        return {
            "progress": self.rows("SELECT * FROM challenge.progress ORDER BY user_id, goal_id"),
            "reward_grants": self.rows("SELECT * FROM challenge.reward_grants ORDER BY claim_id"),
            "processed_events": self.rows(
                "SELECT * FROM challenge.processed_events ORDER BY user_id, event_id"
            ),
            "ledger": self.rows("SELECT * FROM challenge.ledger ORDER BY change_id"),
        }


def listen(conn: psycopg.Connection[Any]) -> None:
    conn.execute("LISTEN pgchallenge_reward_grants")


def notifications(conn: psycopg.Connection[Any]) -> list[str]:
    """Payloads received so far on the reward channel (returns at once when there are none)."""
    return [n.payload for n in conn.notifies(timeout=0.5) if n.channel == "pgchallenge_reward_grants"]


def dict_rows(conn: psycopg.Connection[Any], sql: str, params: list[Any] | None = None) -> list[Row]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()
