-- Audit ledger (issue 3): the table, its default partition and index, as in plpgsql/schema.sql.

-- The audit ledger: one row per change of a progress row (assignment, increment, absolute value,
-- rotation, claim, expiry), written by the function that makes the change, in the same transaction.
-- Append-only; explain_progress reads one row's history from it. Partitioned by day of recorded_at
-- (UTC), so retention is a partition drop (prune_ledger); create_ledger_partitions makes the coming
-- days' partitions ahead of time, and rows of a day without one land in ledger_default, never lost.
-- Switched per deployment, role or session by the setting pgchallenge.ledger (on by default):
--   ALTER DATABASE mydb SET pgchallenge.ledger = off;
CREATE SEQUENCE challenge.ledger_change_id_seq;

CREATE TABLE challenge.ledger (
    -- Order of the changes: a row's changes are serialised by its row lock, so a later change of one
    -- (user, goal) always draws a larger number.
    change_id bigint NOT NULL DEFAULT nextval('challenge.ledger_change_id_seq'),
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The transaction (the call) that made the change; rows of one call share it.
    txid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    user_id text NOT NULL,
    goal_id text NOT NULL,
    operation text NOT NULL
        CONSTRAINT ledger_operation_valid
        CHECK (operation IN ('assign', 'unassign', 'increment', 'set', 'rotate', 'claim', 'expire')),
    -- The event ids of the applied items folded into this change, in order; NULL when none had one.
    event_ids text[],
    -- NULL before: the row was created; NULL after: the row was deleted.
    progress_before integer,
    progress_after integer,
    status_before text,
    status_after text,
    -- The change first moved the row into a later rotation period (applying the goal's onExpiry rule).
    rotated boolean NOT NULL DEFAULT false,
    period_start timestamptz,
    -- The newest occurred_at among the applied items (writes), else NULL.
    occurred_at timestamptz
) PARTITION BY RANGE (recorded_at);

ALTER SEQUENCE challenge.ledger_change_id_seq OWNED BY challenge.ledger.change_id;

CREATE TABLE challenge.ledger_default PARTITION OF challenge.ledger DEFAULT;

-- explain_progress and delete_user_data: one player's (or one row's) history, in order.
CREATE INDEX ledger_row_idx ON challenge.ledger (user_id, goal_id, change_id);
