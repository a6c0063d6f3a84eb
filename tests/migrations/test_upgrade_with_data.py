"""A database filled at revision 0006 upgrades to head and keeps answering correctly."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from alembic.script import ScriptDirectory
from pgchallenge import migrate
from psycopg.types.json import Jsonb

from tests.migrations.migrationhelpers import NewDatabase

CONFIG = {
    "challenges": [
        {
            "challengeId": "c",
            "name": "c",
            "goals": [
                {
                    "goalId": goal_id,
                    "name": goal_id,
                    "type": "increment",
                    "eventSource": "statistic",
                    "requirement": {"statCode": "kills", "operator": ">=", "targetValue": target},
                    "reward": {"type": "ITEM", "rewardId": f"r-{goal_id}", "quantity": 1},
                    "defaultAssigned": True,
                }
                for goal_id, target in (("kill-2", 2), ("kill-100", 100))
            ],
        }
    ]
}


def fill_at_0006(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT challenge.load_config(%s::jsonb)", [Jsonb(CONFIG)])
    for user_id in ("u1", "u2"):
        conn.execute("SELECT count(*) FROM challenge.initialize_player(%s)", [user_id])
    conn.execute(
        "SELECT challenge.increment_progress_batch(%s::jsonb)",
        [Jsonb([{"user_id": "u1", "goal_id": "kill-2", "delta": 2, "event_id": "old-1"}])],
    )
    conn.execute(
        "SELECT challenge.record_events(%s::jsonb)",
        [
            Jsonb(
                [{"event_id": "old-2", "user_id": "u2", "kind": "statistic", "stat_code": "kills", "inc": 5}]
            )
        ],
    )
    conn.execute("SELECT * FROM challenge.increment_progress('u2', 'kill-100', 1, 'old-3')")
    conn.execute("SELECT * FROM challenge.claim_goal('u1', 'kill-2', 'claim-1')")


def test_upgrade_from_0006_with_data_keeps_state_and_dedup(new_database: NewDatabase) -> None:
    url = new_database()
    migrate.upgrade(url, "0006_audit_ledger")
    with psycopg.connect(url, autocommit=True) as conn:
        fill_at_0006(conn)
        before = conn.execute(
            "SELECT user_id, goal_id, progress, status FROM challenge.progress ORDER BY 1, 2"
        ).fetchall()
        ledger_rows = conn.execute("SELECT count(*) FROM challenge.ledger").fetchone()

    migrate.upgrade(url)

    with psycopg.connect(url, autocommit=True) as conn:
        assert (
            conn.execute(
                "SELECT user_id, goal_id, progress, status FROM challenge.progress ORDER BY 1, 2"
            ).fetchall()
            == before
        )
        assert conn.execute("SELECT count(*) FROM challenge.ledger").fetchone() == ledger_rows
        assert conn.execute("SELECT count(*) FROM challenge.processed_events_legacy").fetchone() == (3,)

        # Replays of ids remembered before the upgrade are still duplicates, through every write path.
        replay = conn.execute(
            "SELECT challenge.increment_progress_batch(%s::jsonb)",
            [Jsonb([{"user_id": "u2", "goal_id": "kill-100", "event_id": "old-1"}])],
        ).fetchone()
        assert replay is not None and replay[0]["skipped"]["duplicate_event"] == 1
        events = conn.execute(
            "SELECT challenge.record_events(%s::jsonb)",
            [Jsonb([{"event_id": "old-2", "user_id": "u2", "kind": "statistic", "stat_code": "kills"}])],
        ).fetchone()
        assert events is not None and events[0]["duplicate_events"] == 1
        single = conn.execute(
            "SELECT outcome FROM challenge.increment_progress('u2', 'kill-100', 1, 'old-3')"
        )
        assert single.fetchone() == ("duplicate_event",)

        # New ids work, per player; the claim stays claimed and answers its retry.
        fresh = conn.execute(
            "SELECT challenge.increment_progress_batch(%s::jsonb)",
            [Jsonb([{"user_id": "u2", "goal_id": "kill-100", "event_id": "new-1"}])],
        ).fetchone()
        assert fresh is not None and fresh[0]["applied"] == 1
        claim = conn.execute("SELECT claim_id, replayed FROM challenge.claim_goal('u1', 'kill-2', 'claim-1')")
        assert claim.fetchone() == ("claim-1", True)
        # The grant claimed before revision 0010 keeps the key the worker sent it with so far (the claim
        # id); it is finished by player and claim id. A new claim's key names the player too.
        leased = conn.execute(
            "SELECT user_id, claim_id, idempotency_key FROM challenge.lease_reward_grants('w', 10)"
        ).fetchall()
        assert leased == [("u1", "claim-1", "claim-1")]
        finished = conn.execute(
            "SELECT state FROM challenge.finish_reward_grant('u1', 'claim-1', true)"
        ).fetchone()
        assert finished == ("granted",)
        conn.execute("SELECT challenge.increment_progress('u2', 'kill-2', 2)")
        conn.execute("SELECT * FROM challenge.claim_goal('u2', 'kill-2', 'claim-1')")  # another player's
        keys = conn.execute(
            "SELECT user_id, idempotency_key FROM challenge.reward_grants ORDER BY user_id"
        ).fetchall()
        assert keys == [("u1", "claim-1"), ("u2", "2:u2:claim-1")]
        history = conn.execute("SELECT count(*) FROM challenge.explain_progress('u1', 'kill-2')").fetchone()
        assert history is not None and history[0] >= 3  # assign, increment, claim

        # Pruning empties the legacy ids first; then the writes stop consulting them.
        assert conn.execute("SELECT challenge.prune_processed_events('0 seconds')").fetchone() == (4,)
        assert conn.execute("SELECT count(*) FROM challenge.processed_events_legacy").fetchone() == (0,)


def test_downgrade_below_0010_is_refused_while_players_share_a_claim_id(new_database: NewDatabase) -> None:
    url = new_database()
    migrate.upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT challenge.load_config(%s::jsonb)", [Jsonb(CONFIG)])
        for user_id in ("u1", "u2"):
            conn.execute("SELECT challenge.initialize_player(%s)", [user_id])
            conn.execute("SELECT challenge.increment_progress(%s, 'kill-2', 2)", [user_id])
            conn.execute("SELECT * FROM challenge.claim_goal(%s, 'kill-2', 'same-id')", [user_id])
    head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    with pytest.raises(psycopg.Error, match="claim id same-id is used by several players"):
        migrate.downgrade(url, "0009_privileges")
    with psycopg.connect(url, autocommit=True) as conn:
        # One transaction: nothing of the downgrade stays.
        assert conn.execute("SELECT version_num FROM challenge.alembic_version").fetchone() == (head,)
        assert conn.execute("SELECT count(*) FROM challenge.reward_grants").fetchone() == (2,)
