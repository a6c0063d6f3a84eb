"""audit ledger

Revision ID: 0006_audit_ledger
Revises: 0005_shared_timestamp_validation
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import earlier, run_snapshot

revision = "0006_audit_ledger"
down_revision = "0005_shared_timestamp_validation"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "upgrade.sql",
    "functions/_ledger_enabled.sql",
    "functions/_increment_batch.sql",
    "functions/_set_batch.sql",
    "functions/increment_progress_batch.sql",
    "functions/set_progress_batch.sql",
    "functions/_apply_routed.sql",
    "functions/record_events.sql",
    "functions/increment_progress.sql",
    "functions/_rotate_rows.sql",
    "functions/set_goal_active.sql",
    "functions/_activate_goals.sql",
    "functions/initialize_player.sql",
    "functions/claim_goal.sql",
    "functions/delete_expired_progress.sql",
    "functions/delete_user_data.sql",
    "functions/create_ledger_partitions.sql",
    "functions/prune_ledger.sql",
    "functions/explain_progress.sql",
]
DOWNGRADE_FILES = [
    "downgrade/functions/_ledger_enabled.sql",
    "downgrade/functions/_increment_batch.sql",
    "downgrade/functions/_set_batch.sql",
    earlier("0003_rotation_periods", "functions/increment_progress_batch.sql"),
    earlier("0003_rotation_periods", "functions/set_progress_batch.sql"),
    earlier("0004_record_events", "functions/_apply_routed.sql"),
    earlier("0004_record_events", "functions/record_events.sql"),
    earlier("0003_rotation_periods", "functions/increment_progress.sql"),
    earlier("0003_rotation_periods", "functions/_rotate_rows.sql"),
    earlier("0003_rotation_periods", "functions/set_goal_active.sql"),
    earlier("0003_rotation_periods", "functions/_activate_goals.sql"),
    earlier("0003_rotation_periods", "functions/initialize_player.sql"),
    earlier("0003_rotation_periods", "functions/claim_goal.sql"),
    earlier("0002_claims_outbox_maintenance", "functions/delete_expired_progress.sql"),
    earlier("0002_claims_outbox_maintenance", "functions/delete_user_data.sql"),
    "downgrade/functions/create_ledger_partitions.sql",
    "downgrade/functions/prune_ledger.sql",
    "downgrade/functions/explain_progress.sql",
    "downgrade.sql",
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
