"""initial: catalog, progress, processed events, and the core functions

Revision ID: 0001_initial
Revises: None
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import run_snapshot

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of plpgsql/ as of this revision; never edit them after this revision lands.
UPGRADE_FILES = [
    "schema.sql",
    "functions/_batch_result.sql",
    "functions/_check_identifier.sql",
    "functions/_check_write_items.sql",
    "functions/_config_error.sql",
    "functions/_config_goal.sql",
    "functions/_first_bad_timestamp.sql",
    "functions/_is_positive_integer.sql",
    "functions/_merge_batch_results.sql",
    "functions/_remember_events.sql",
    "functions/get_progress.sql",
    "functions/get_user_progress.sql",
    "functions/increment_progress.sql",
    "functions/increment_progress_batch.sql",
    "functions/initialize_player.sql",
    "functions/load_config.sql",
    "functions/set_goal_active.sql",
    "functions/set_progress_batch.sql",
]
DOWNGRADE_FILES = [
    "downgrade.sql",
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
