"""strict timestamps and plans

Revision ID: 0007_strict_timestamps_and_plans
Revises: 0006_audit_ledger
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import earlier, run_snapshot

revision = "0007_strict_timestamps_and_plans"
down_revision = "0006_audit_ledger"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "upgrade.sql",
    "functions/_timestamp_pattern.sql",
    "functions/_is_zoned_timestamp.sql",
    "functions/_first_bad_timestamp.sql",
    "functions/_timestamp_problem.sql",
    "functions/_check_write_items.sql",
    "functions/_check_events.sql",
    "functions/_remember_new_events.sql",
    "functions/_increment_batch.sql",
    "functions/_set_batch.sql",
    "functions/record_events.sql",
    "functions/_first_repeat.sql",
    "functions/_config_goal.sql",
    "functions/load_config.sql",
]
DOWNGRADE_FILES = [
    earlier("0005_shared_timestamp_validation", "functions/_is_zoned_timestamp.sql"),
    earlier("0005_shared_timestamp_validation", "functions/_first_bad_timestamp.sql"),
    earlier("0005_shared_timestamp_validation", "functions/_check_write_items.sql"),
    earlier("0005_shared_timestamp_validation", "functions/_check_events.sql"),
    earlier("0006_audit_ledger", "functions/_increment_batch.sql"),
    earlier("0006_audit_ledger", "functions/_set_batch.sql"),
    earlier("0006_audit_ledger", "functions/record_events.sql"),
    "downgrade/functions/_remember_new_events.sql",
    "downgrade/functions/_timestamp_problem.sql",
    "downgrade/functions/_timestamp_pattern.sql",
    earlier("0001_initial", "functions/_config_goal.sql"),
    earlier("0001_initial", "functions/load_config.sql"),
    "downgrade/functions/_first_repeat.sql",
    "downgrade.sql",
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
