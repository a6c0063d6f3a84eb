"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Prefer `python scripts/new_revision.py`, which freezes the SQL files into the revision.
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import run_snapshot

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}

UPGRADE_FILES: list[str] = []
DOWNGRADE_FILES: list[str] = []


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
