"""comments cite docs/api.md

The functions' comments cite docs/api.md, the SQL contract as the repository now keeps it, and say what the
reference's defects were instead of naming them by the ids of a document a clone does not have. No function
behaves differently.

Revision ID: 0012_comments_cite_docs_api_md
Revises: 0011_citus_cluster
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import earlier, run_snapshot

revision = "0012_comments_cite_docs_api_md"
down_revision = "0011_citus_cluster"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "functions/_access_rules.sql",
    "functions/_check_identifier.sql",
    "functions/_limits.sql",
    "functions/increment_progress_batch.sql",
    "functions/_activate_goals.sql",
    "functions/random_select_goals.sql",
    "functions/claim_goal.sql",
    "access.sql",
]
DOWNGRADE_FILES = [
    earlier("0009_privileges", "functions/_access_rules.sql"),
    earlier("0001_initial", "functions/_check_identifier.sql"),
    earlier("0009_privileges", "functions/_limits.sql"),
    earlier("0009_privileges", "functions/increment_progress_batch.sql"),
    earlier("0011_citus_cluster", "functions/_activate_goals.sql"),
    earlier("0009_privileges", "functions/random_select_goals.sql"),
    earlier("0011_citus_cluster", "functions/claim_goal.sql"),
    "access.sql",
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
