"""rotation periods

Revision ID: 0003_rotation_periods
Revises: 0002_claims_outbox_maintenance
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import earlier, run_snapshot

revision = "0003_rotation_periods"
down_revision = "0002_claims_outbox_maintenance"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "upgrade.sql",
    "functions/_period_end.sql",
    "functions/_period_resets.sql",
    "functions/_period_start.sql",
    "functions/_rotate_rows.sql",
    "functions/_check_write_items.sql",
    "functions/increment_progress.sql",
    "functions/increment_progress_batch.sql",
    "functions/set_progress_batch.sql",
    "functions/initialize_player.sql",
    "functions/set_goal_active.sql",
    "functions/_activate_goals.sql",
    "functions/claim_goal.sql",
    "functions/get_rotation_status.sql",
]
DOWNGRADE_FILES = [
    "downgrade/functions/_period_end.sql",
    "downgrade/functions/_period_resets.sql",
    "downgrade/functions/_period_start.sql",
    "downgrade/functions/_rotate_rows.sql",
    earlier("0001_initial", "functions/_check_write_items.sql"),
    earlier("0001_initial", "functions/increment_progress.sql"),
    earlier("0001_initial", "functions/increment_progress_batch.sql"),
    earlier("0001_initial", "functions/set_progress_batch.sql"),
    earlier("0001_initial", "functions/initialize_player.sql"),
    earlier("0001_initial", "functions/set_goal_active.sql"),
    earlier("0002_claims_outbox_maintenance", "functions/_activate_goals.sql"),
    earlier("0002_claims_outbox_maintenance", "functions/claim_goal.sql"),
    "downgrade/functions/get_rotation_status.sql",
    "downgrade.sql",
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
