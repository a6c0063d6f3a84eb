"""shared timestamp validation

Revision ID: 0005_shared_timestamp_validation
Revises: 0004_record_events
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import earlier, run_snapshot

revision = "0005_shared_timestamp_validation"
down_revision = "0004_record_events"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "functions/_is_zoned_timestamp.sql",
    "functions/_first_bad_timestamp.sql",
    "functions/_check_write_items.sql",
    "functions/_check_events.sql",
]
DOWNGRADE_FILES = [
    "downgrade/functions/_is_zoned_timestamp.sql",
    earlier("0001_initial", "functions/_first_bad_timestamp.sql"),
    earlier("0003_rotation_periods", "functions/_check_write_items.sql"),
    earlier("0004_record_events", "functions/_check_events.sql"),
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
