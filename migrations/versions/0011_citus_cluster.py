"""citus cluster: the write engine, the outbox lease, the maintenance deletes and status run on Citus

Revision ID: 0011_citus_cluster
Revises: 0010_citus_statements

The write engine reads the rows by an inner join on (user_id, goal_id), which Citus pushes down to the
shards, instead of an outer lateral join it cannot plan; the writes without a row get their outcome at the
end. lease_reward_grants, delete_expired_progress and prune_processed_events lock the rows they pick only on
plain PostgreSQL (challenge._row_lock; a Citus cluster cannot lock rows across shards, and the deployment
records that it is distributed: challenge._distributed), and re-check them in their UPDATE or DELETE.
status reads the statistics of a distributed table from its shards, in statements of their own.
The order of a row's changes no longer depends on the node that makes them: challenge.progress.version
grows by one with every change (every write function bumps it), the ledger records it (row_version), and
explain_progress orders by it.
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import earlier, run_snapshot

revision = "0011_citus_cluster"
down_revision = "0010_citus_statements"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "upgrade.sql",
    "functions/_distributed.sql",
    "functions/_row_lock.sql",
    "functions/_apply_writes.sql",
    "functions/lease_reward_grants.sql",
    "functions/delete_expired_progress.sql",
    "functions/prune_processed_events.sql",
    "functions/_shard_stats.sql",
    "functions/_table_rows.sql",
    "functions/status.sql",
    "functions/_activate_goals.sql",
    "functions/initialize_player.sql",
    "functions/set_goal_active.sql",
    "functions/claim_goal.sql",
    "functions/_rotate_rows.sql",
    "functions/increment_progress.sql",
    "functions/explain_progress.sql",
    "access.sql",
]
# The functions go back first; then the columns (downgrade.sql) and the helpers, which they no longer use.
DOWNGRADE_FILES = [
    earlier("0008_write_engine", "functions/_apply_writes.sql"),
    earlier("0010_citus_statements", "functions/lease_reward_grants.sql"),
    earlier("0009_privileges", "functions/delete_expired_progress.sql"),
    earlier("0009_privileges", "functions/prune_processed_events.sql"),
    earlier("0009_privileges", "functions/_table_rows.sql"),
    earlier("0009_privileges", "functions/status.sql"),
    earlier("0006_audit_ledger", "functions/_activate_goals.sql"),
    earlier("0009_privileges", "functions/initialize_player.sql"),
    earlier("0010_citus_statements", "functions/set_goal_active.sql"),
    earlier("0010_citus_statements", "functions/claim_goal.sql"),
    earlier("0010_citus_statements", "functions/_rotate_rows.sql"),
    earlier("0009_privileges", "functions/increment_progress.sql"),
    earlier("0009_privileges", "functions/explain_progress.sql"),
    "downgrade.sql",
    "downgrade/functions/_shard_stats.sql",
    "downgrade/functions/_row_lock.sql",
    "downgrade/functions/_distributed.sql",
    "access.sql",
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
