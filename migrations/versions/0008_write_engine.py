"""write engine

Revision ID: 0008_write_engine
Revises: 0007_strict_timestamps_and_plans
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import earlier, run_snapshot

revision = "0008_write_engine"
down_revision = "0007_strict_timestamps_and_plans"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "upgrade.sql",
    "functions/_ledger_setting.sql",
    "functions/_ledger_enabled.sql",
    "functions/_outcome.sql",
    "functions/_resets.sql",
    "functions/_stamps_match.sql",
    "functions/_first_bad_timestamp.sql",
    "functions/_check_source.sql",
    "functions/_advance_source.sql",
    "functions/acquire_source.sql",
    "functions/_check_events.sql",
    "functions/_parse_write_items.sql",
    "functions/_parse_events.sql",
    "functions/_remember_new_events.sql",
    "functions/_outcomes.sql",
    "functions/_limits.sql",
    "functions/_write_result.sql",
    "functions/_write_item_details.sql",
    "functions/_writes_in_catalog.sql",
    "functions/_apply_writes.sql",
    "functions/_write_batch.sql",
    "functions/increment_progress_batch.sql",
    "functions/set_progress_batch.sql",
    "functions/record_events.sql",
    "functions/increment_progress.sql",
    "functions/_rotate_rows.sql",
    "functions/prune_processed_events.sql",
    "functions/delete_user_data.sql",
    "functions/delete_expired_progress.sql",
    "functions/prune_ledger.sql",
]
# Downgrade order: the functions this revision adds go first (the type they use goes with the schema),
# then the schema, then the functions it replaced or removed, helpers before their callers (SQL function
# bodies are checked when created).
DOWNGRADE_FILES = [
    "downgrade/functions/_write_batch.sql",
    "downgrade/functions/_apply_writes.sql",
    "downgrade/functions/_writes_in_catalog.sql",
    "downgrade/functions/_write_item_details.sql",
    "downgrade/functions/_write_result.sql",
    "downgrade/functions/_outcomes.sql",
    "downgrade/functions/_limits.sql",
    "downgrade/functions/_parse_write_items.sql",
    "downgrade/functions/_parse_events.sql",
    "downgrade/functions/acquire_source.sql",
    "downgrade/functions/_advance_source.sql",
    "downgrade/functions/_check_source.sql",
    "downgrade/functions/_stamps_match.sql",
    "downgrade/functions/_outcome.sql",
    "downgrade.sql",
    earlier("0007_strict_timestamps_and_plans", "functions/_first_bad_timestamp.sql"),
    earlier("0006_audit_ledger", "functions/delete_expired_progress.sql"),
    earlier("0006_audit_ledger", "functions/prune_ledger.sql"),
    earlier("0003_rotation_periods", "functions/_period_resets.sql"),
    "downgrade/functions/_resets.sql",
    earlier("0001_initial", "functions/_batch_result.sql"),
    earlier("0001_initial", "functions/_merge_batch_results.sql"),
    earlier("0007_strict_timestamps_and_plans", "functions/_remember_new_events.sql"),
    earlier("0007_strict_timestamps_and_plans", "functions/_check_events.sql"),
    earlier("0007_strict_timestamps_and_plans", "functions/_increment_batch.sql"),
    earlier("0007_strict_timestamps_and_plans", "functions/_set_batch.sql"),
    earlier("0006_audit_ledger", "functions/_apply_routed.sql"),
    earlier("0006_audit_ledger", "functions/increment_progress_batch.sql"),
    earlier("0006_audit_ledger", "functions/set_progress_batch.sql"),
    earlier("0007_strict_timestamps_and_plans", "functions/record_events.sql"),
    earlier("0006_audit_ledger", "functions/increment_progress.sql"),
    earlier("0006_audit_ledger", "functions/_rotate_rows.sql"),
    earlier("0002_claims_outbox_maintenance", "functions/prune_processed_events.sql"),
    earlier("0006_audit_ledger", "functions/delete_user_data.sql"),
    earlier("0006_audit_ledger", "functions/_ledger_enabled.sql"),
    "downgrade/functions/_ledger_setting.sql",
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
