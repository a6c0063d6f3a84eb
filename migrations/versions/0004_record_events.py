"""record events

Revision ID: 0004_record_events
Revises: 0003_rotation_periods
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import earlier, run_snapshot

revision = "0004_record_events"
down_revision = "0003_rotation_periods"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "functions/_remember_events.sql",
    "functions/_check_events.sql",
    "functions/_apply_routed.sql",
    "functions/record_events.sql",
]
DOWNGRADE_FILES = [
    earlier("0001_initial", "functions/_remember_events.sql"),
    "downgrade/functions/_check_events.sql",
    "downgrade/functions/_apply_routed.sql",
    "downgrade/functions/record_events.sql",
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
