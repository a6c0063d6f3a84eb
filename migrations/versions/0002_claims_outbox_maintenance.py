"""claims with a reward-grant outbox, goal selection, maintenance

Revision ID: 0002_claims_outbox_maintenance
Revises: 0001_initial
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import run_snapshot

revision = "0002_claims_outbox_maintenance"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "upgrade.sql",
    "functions/_activate_goals.sql",
    "functions/_check_maintenance_args.sql",
    "functions/claim_goal.sql",
    "functions/delete_expired_progress.sql",
    "functions/delete_user_data.sql",
    "functions/finish_reward_grant.sql",
    "functions/lease_reward_grants.sql",
    "functions/prune_processed_events.sql",
    "functions/random_select_goals.sql",
    "functions/select_goals.sql",
]
DOWNGRADE_FILES = [
    "downgrade/functions/_activate_goals.sql",
    "downgrade/functions/_check_maintenance_args.sql",
    "downgrade/functions/claim_goal.sql",
    "downgrade/functions/delete_expired_progress.sql",
    "downgrade/functions/delete_user_data.sql",
    "downgrade/functions/finish_reward_grant.sql",
    "downgrade/functions/lease_reward_grants.sql",
    "downgrade/functions/prune_processed_events.sql",
    "downgrade/functions/random_select_goals.sql",
    "downgrade/functions/select_goals.sql",
    "downgrade.sql",
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
