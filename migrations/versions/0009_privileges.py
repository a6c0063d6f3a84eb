"""privileges: three group roles, the functions as the only door, and challenge.status

Revision ID: 0009_privileges
Revises: 0008_write_engine

The roles' names: ``alembic -x role_prefix=NAME`` (NAME_app, NAME_reader, NAME_admin; default pgchallenge),
or one by one with ``-x app_role=...``, ``-x reader_role=...``, ``-x admin_role=...``; ``pgchallenge migrate
--role-prefix`` and the environment variable PGCHALLENGE_ROLE_PREFIX set the prefix too. The frozen SQL reads
them from transaction-local settings (pgchallenge.app_role, ...), which this file sets first.
"""

from __future__ import annotations

import os

from alembic import context
from pgchallenge.migrations.sqlfiles import earlier, run_snapshot, set_local_settings

revision = "0009_privileges"
down_revision = "0008_write_engine"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "upgrade.sql",
    "functions/_access_rules.sql",
    "functions/_apply_access.sql",
    "functions/_table_rows.sql",
    "functions/status.sql",
    "functions/_limits.sql",
    "functions/_ledger_setting.sql",
    "functions/_ledger_switch.sql",
    "functions/_ledger_enabled.sql",
    "functions/set_ledger.sql",
    "functions/acquire_source.sql",
    "functions/claim_goal.sql",
    "functions/create_ledger_partitions.sql",
    "functions/delete_expired_progress.sql",
    "functions/delete_user_data.sql",
    "functions/explain_progress.sql",
    "functions/finish_reward_grant.sql",
    "functions/get_progress.sql",
    "functions/get_rotation_status.sql",
    "functions/get_user_progress.sql",
    "functions/increment_progress.sql",
    "functions/increment_progress_batch.sql",
    "functions/initialize_player.sql",
    "functions/lease_reward_grants.sql",
    "functions/load_config.sql",
    "functions/prune_ledger.sql",
    "functions/prune_processed_events.sql",
    "functions/random_select_goals.sql",
    "functions/record_events.sql",
    "functions/select_goals.sql",
    "functions/set_goal_active.sql",
    "functions/set_progress_batch.sql",
    "access.sql",
]
# The grants and roles go first (downgrade.sql reads challenge.deployment_roles, then drops it).
DOWNGRADE_FILES = [
    "downgrade.sql",
    "downgrade/functions/_access_rules.sql",
    "downgrade/functions/_apply_access.sql",
    "downgrade/functions/_table_rows.sql",
    "downgrade/functions/status.sql",
    earlier("0008_write_engine", "functions/_limits.sql"),
    "downgrade/functions/set_ledger.sql",
    earlier("0008_write_engine", "functions/_ledger_enabled.sql"),
    earlier("0008_write_engine", "functions/_ledger_setting.sql"),
    "downgrade/functions/_ledger_switch.sql",
    earlier("0008_write_engine", "functions/acquire_source.sql"),
    earlier("0006_audit_ledger", "functions/claim_goal.sql"),
    earlier("0006_audit_ledger", "functions/create_ledger_partitions.sql"),
    earlier("0008_write_engine", "functions/delete_expired_progress.sql"),
    earlier("0008_write_engine", "functions/delete_user_data.sql"),
    earlier("0006_audit_ledger", "functions/explain_progress.sql"),
    earlier("0002_claims_outbox_maintenance", "functions/finish_reward_grant.sql"),
    earlier("0001_initial", "functions/get_progress.sql"),
    earlier("0003_rotation_periods", "functions/get_rotation_status.sql"),
    earlier("0001_initial", "functions/get_user_progress.sql"),
    earlier("0008_write_engine", "functions/increment_progress.sql"),
    earlier("0008_write_engine", "functions/increment_progress_batch.sql"),
    earlier("0006_audit_ledger", "functions/initialize_player.sql"),
    earlier("0002_claims_outbox_maintenance", "functions/lease_reward_grants.sql"),
    earlier("0007_strict_timestamps_and_plans", "functions/load_config.sql"),
    earlier("0008_write_engine", "functions/prune_ledger.sql"),
    earlier("0008_write_engine", "functions/prune_processed_events.sql"),
    earlier("0002_claims_outbox_maintenance", "functions/random_select_goals.sql"),
    earlier("0008_write_engine", "functions/record_events.sql"),
    earlier("0002_claims_outbox_maintenance", "functions/select_goals.sql"),
    earlier("0006_audit_ledger", "functions/set_goal_active.sql"),
    earlier("0008_write_engine", "functions/set_progress_batch.sql"),
]
ROLE_KINDS = ("app", "reader", "admin")


def role_names() -> dict[str, str]:
    options = context.get_x_argument(as_dictionary=True)
    prefix = (
        options.get("role_prefix")
        or context.config.get_main_option("pgchallenge_role_prefix")
        or os.environ.get("PGCHALLENGE_ROLE_PREFIX")
        or "pgchallenge"
    )
    return {kind: options.get(f"{kind}_role") or f"{prefix}_{kind}" for kind in ROLE_KINDS}


def upgrade() -> None:
    set_local_settings({f"pgchallenge.{kind}_role": name for kind, name in role_names().items()})
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
