"""The SQL text of every call the client makes: one constant per SQL function, named after it.

The text uses PostgreSQL's own ``$n`` placeholders and runs through psycopg's ``RawCursor``, so what the
server receives is byte-identical to what psql or a pgbench script would send for the same call (and the
statements share one shape in ``pg_stat_statements``). jsonb parameters carry an explicit jsonb cast
because Python strings are sent with the "unknown" type. ``coalesce($n, now())`` keeps the SQL default for
``occurred_at`` when the caller passes ``None``, since a NULL argument would override it. The optional
arguments the client always sends (``p_detail``, ``p_source``...) are passed by name, as in the SQL
documentation, with casts that pin the types of the Python values. Types and functions are written with
``pg_catalog.``, as the SQL functions' own bodies resolve them: a session's search_path cannot substitute
its own ``now()`` or type.
"""

from __future__ import annotations

from typing import Final

LOAD_CONFIG: Final = "SELECT challenge.load_config($1::pg_catalog.jsonb)"

INITIALIZE_PLAYER: Final = "SELECT * FROM challenge.initialize_player($1, $2)"

SET_GOAL_ACTIVE: Final = "SELECT * FROM challenge.set_goal_active($1, $2, $3, $4)"

INCREMENT_PROGRESS: Final = (
    "SELECT outcome, progress, status, newly_completed"
    " FROM challenge.increment_progress($1, $2, $3, $4, coalesce($5, pg_catalog.now()))"
)

INCREMENT_PROGRESS_BATCH: Final = (
    "SELECT challenge.increment_progress_batch($1::pg_catalog.jsonb, p_detail => $2::pg_catalog.bool)"
)

SET_PROGRESS_BATCH: Final = (
    "SELECT challenge.set_progress_batch($1::pg_catalog.jsonb, p_detail => $2::pg_catalog.bool)"
)

RECORD_EVENTS: Final = (
    "SELECT challenge.record_events($1::pg_catalog.jsonb, p_detail => $2::pg_catalog.bool,"
    " p_source => $3::pg_catalog.text, p_partition => $4::pg_catalog.text, p_epoch => $5::pg_catalog.int8)"
)

ACQUIRE_SOURCE: Final = "SELECT epoch, position FROM challenge.acquire_source($1, $2)"

GET_PROGRESS: Final = "SELECT * FROM challenge.get_progress($1, $2)"

GET_USER_PROGRESS: Final = "SELECT * FROM challenge.get_user_progress($1, $2, $3)"

CLAIM_GOAL: Final = (
    "SELECT claim_id, user_id, goal_id, reward_type, reward_id, quantity, claimed_at, replayed"
    " FROM challenge.claim_goal($1, $2, $3)"
)

LEASE_REWARD_GRANTS: Final = "SELECT * FROM challenge.lease_reward_grants($1, $2, $3)"

FINISH_REWARD_GRANT: Final = "SELECT * FROM challenge.finish_reward_grant($1, $2, $3, $4)"

SELECT_GOALS: Final = "SELECT * FROM challenge.select_goals($1, $2, $3::pg_catalog.text[], $4)"

RANDOM_SELECT_GOALS: Final = "SELECT * FROM challenge.random_select_goals($1, $2, $3, $4, $5, $6)"

DELETE_EXPIRED_PROGRESS: Final = "SELECT challenge.delete_expired_progress($1, $2)"

PRUNE_PROCESSED_EVENTS: Final = "SELECT challenge.prune_processed_events($1, $2)"

DELETE_USER_DATA: Final = "SELECT challenge.delete_user_data($1)"

EXPLAIN_PROGRESS: Final = "SELECT * FROM challenge.explain_progress($1, $2)"

GET_ROTATION_STATUS: Final = "SELECT * FROM challenge.get_rotation_status($1)"

STATUS: Final = "SELECT metric, labels, value, exact, help FROM challenge.status()"

SET_LEDGER: Final = "SELECT challenge.set_ledger($1)"

CREATE_LEDGER_PARTITIONS: Final = "SELECT challenge.create_ledger_partitions($1)"

PRUNE_LEDGER: Final = "SELECT challenge.prune_ledger($1, $2)"
