"""citus statements: statements a Citus cluster can plan, and claim ids unique per player

Revision ID: 0010_citus_statements
Revises: 0009_privileges

get_progress, _remember_new_events and _rotate_rows become PL/pgSQL (Citus cannot plan a SQL function's
parameterised statement on a distributed table); set_goal_active, load_config, _rotate_rows and
_advance_source take the time into a variable first, instead of calling now() / clock_timestamp() inside an
UPDATE's CASE or an ON CONFLICT DO UPDATE SET list, and load_config's upserts take it from the inserted row.
Reward grants are keyed by (user_id, claim_id): claim_goal replays per player, finish_reward_grant takes
the player (a new signature), lease_reward_grants joins its leased grants back by the key and computes
nothing in its CASEs that Citus refuses.
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import earlier, run_snapshot

revision = "0010_citus_statements"
down_revision = "0009_privileges"
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
    "upgrade.sql",
    "functions/get_progress.sql",
    "functions/set_goal_active.sql",
    "functions/load_config.sql",
    "functions/_advance_source.sql",
    "functions/_remember_new_events.sql",
    "functions/_rotate_rows.sql",
    "functions/claim_goal.sql",
    "functions/finish_reward_grant.sql",
    "functions/lease_reward_grants.sql",
    "access.sql",
]
# The key and finish_reward_grant's signature go back first (downgrade.sql), then the functions.
DOWNGRADE_FILES = [
    "downgrade.sql",
    earlier("0009_privileges", "functions/get_progress.sql"),
    earlier("0009_privileges", "functions/set_goal_active.sql"),
    earlier("0009_privileges", "functions/load_config.sql"),
    earlier("0008_write_engine", "functions/_advance_source.sql"),
    earlier("0008_write_engine", "functions/_remember_new_events.sql"),
    earlier("0008_write_engine", "functions/_rotate_rows.sql"),
    earlier("0009_privileges", "functions/claim_goal.sql"),
    earlier("0009_privileges", "functions/finish_reward_grant.sql"),
    earlier("0009_privileges", "functions/lease_reward_grants.sql"),
    "access.sql",
]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
