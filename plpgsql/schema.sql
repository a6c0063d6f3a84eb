-- pgchallenge schema: the catalog (challenges, goals), per-player progress, remembered event ids, and
-- claims with their reward grants (the outbox).
--
-- Tables are private; the public surface is the functions in plpgsql/functions/ and the row type
-- challenge.goal_progress. Everything lives in schema "challenge"; nothing relies on search_path.

CREATE SCHEMA IF NOT EXISTS challenge;

COMMENT ON SCHEMA challenge IS 'pgchallenge: game challenge progress tracking (see README)';

-- A challenge groups goals. Config order is kept in "position" so listings follow the document.
CREATE TABLE challenge.challenges (
    challenge_id text PRIMARY KEY
        CONSTRAINT challenges_id_length CHECK (length(challenge_id) BETWEEN 1 AND 100),
    name text NOT NULL
        CONSTRAINT challenges_name_not_empty CHECK (name <> ''),
    description text NOT NULL DEFAULT '',
    position integer NOT NULL,
    -- A challenge that disappears from the config is retired, never deleted: progress rows refer to it.
    retired_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per goal of the loaded config (camelCase document keys map to snake_case columns).
CREATE TABLE challenge.goals (
    goal_id text PRIMARY KEY
        CONSTRAINT goals_id_length CHECK (length(goal_id) BETWEEN 1 AND 100),
    challenge_id text NOT NULL REFERENCES challenge.challenges (challenge_id),
    name text NOT NULL
        CONSTRAINT goals_name_not_empty CHECK (name <> ''),
    description text NOT NULL DEFAULT '',
    goal_type text NOT NULL
        CONSTRAINT goals_type_valid CHECK (goal_type IN ('absolute', 'increment', 'daily')),
    -- "daily: true" increment goals count at most one increment per UTC day.
    is_daily boolean NOT NULL,
    event_source text NOT NULL
        CONSTRAINT goals_event_source_valid CHECK (event_source IN ('login', 'statistic')),
    stat_code text NOT NULL
        CONSTRAINT goals_stat_code_not_empty CHECK (stat_code <> ''),
    target integer NOT NULL
        CONSTRAINT goals_target_positive CHECK (target > 0),
    progress_mode text NOT NULL
        CONSTRAINT goals_progress_mode_valid CHECK (progress_mode IN ('absolute', 'relative')),
    default_assigned boolean NOT NULL,
    reward_type text NOT NULL
        CONSTRAINT goals_reward_type_valid CHECK (reward_type IN ('ITEM', 'WALLET')),
    reward_id text NOT NULL
        CONSTRAINT goals_reward_id_not_empty CHECK (reward_id <> ''),
    reward_quantity integer NOT NULL
        CONSTRAINT goals_reward_quantity_positive CHECK (reward_quantity > 0),
    prerequisites text[] NOT NULL DEFAULT '{}',
    rotation_enabled boolean NOT NULL DEFAULT false,
    rotation_schedule text
        CONSTRAINT goals_rotation_schedule_valid CHECK (rotation_schedule IN ('daily', 'weekly', 'monthly')),
    rotation_reset_progress boolean NOT NULL DEFAULT true,
    rotation_allow_reselection boolean NOT NULL DEFAULT false,
    position integer NOT NULL,
    -- A goal missing from a reloaded config is retired: its progress rows stay, writes report
    -- unknown_goal, and it can no longer be assigned.
    retired_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- The goal's rotation periods, derived once here so every function agrees: the rotation block, or
    -- for a "type: daily" goal (repeatable, claimable once per UTC day) a daily period that resets
    -- and can be claimed again. NULL: the goal has no periods.
    period_schedule text GENERATED ALWAYS AS (
        CASE WHEN rotation_enabled THEN rotation_schedule WHEN goal_type = 'daily' THEN 'daily' END
    ) STORED,
    period_resets boolean NOT NULL GENERATED ALWAYS AS (
        CASE WHEN rotation_enabled THEN rotation_reset_progress ELSE goal_type = 'daily' END
    ) STORED,
    period_reselects boolean NOT NULL GENERATED ALWAYS AS (
        CASE WHEN rotation_enabled THEN rotation_allow_reselection ELSE goal_type = 'daily' END
    ) STORED,
    CONSTRAINT goals_daily_only_for_increment CHECK (NOT is_daily OR goal_type = 'increment'),
    CONSTRAINT goals_rotation_has_schedule CHECK (NOT rotation_enabled OR rotation_schedule IS NOT NULL)
);

CREATE INDEX goals_challenge_idx ON challenge.goals (challenge_id, position);

-- Per-player progress, one row per assigned (user, goal). Rows are created only by assignment
-- (initialize_player, set_goal_active); writes never create rows.
--
-- Deliberately no index on progress, status, is_active or updated_at: every event rewrites them,
-- and keeping them out of indexes lets those updates stay HOT. The fillfactor leaves room on each
-- page for the new row versions. The primary key's user_id prefix serves every per-user read.
CREATE TABLE challenge.progress (
    user_id text NOT NULL
        CONSTRAINT progress_user_id_length CHECK (length(user_id) BETWEEN 1 AND 100),
    goal_id text NOT NULL REFERENCES challenge.goals (goal_id),
    namespace text NOT NULL
        CONSTRAINT progress_namespace_length CHECK (length(namespace) BETWEEN 1 AND 100),
    progress integer NOT NULL
        CONSTRAINT progress_non_negative CHECK (progress >= 0),
    status text NOT NULL
        CONSTRAINT progress_status_valid
        CHECK (status IN ('not_started', 'in_progress', 'completed', 'claimed')),
    -- No default on purpose: every insert path states whether the goal is assigned (the reference's
    -- DEFAULT true silently activated rows on paths that forgot the column).
    is_active boolean NOT NULL,
    assigned_at timestamptz,
    completed_at timestamptz,
    claimed_at timestamptz,
    expires_at timestamptz,
    -- UTC day of the last counted increment of a once-per-day goal; its own column, never updated_at,
    -- so that assignment and other writes cannot swallow the first increment of a day.
    last_counted_day date,
    -- occurred_at of the last absolute value applied; older values are stale and ignored.
    last_value_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL,
    -- Start of the rotation period the row's progress belongs to (goals with a period_schedule);
    -- rotation is lazy: the first write in a later period applies the goal's onExpiry rule.
    period_start timestamptz,
    -- progressMode "relative": the stat value at the start of the period (value - inc of the first
    -- event in it); progress is the stat value minus this baseline.
    baseline integer,
    -- Grows by one with every change of the row; a new row starts at the clock's microseconds, so a row
    -- deleted and created again goes on from a larger number. The ledger records it with each change
    -- (row_version): the order of a row's history on a Citus cluster, where every node draws change ids
    -- from its own range and keeps its own clock.
    version bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,
    PRIMARY KEY (user_id, goal_id),
    CONSTRAINT progress_completed_at_matches_status
        CHECK ((completed_at IS NOT NULL) = (status IN ('completed', 'claimed'))),
    CONSTRAINT progress_claimed_at_matches_status
        CHECK ((claimed_at IS NOT NULL) = (status = 'claimed')),
    CONSTRAINT progress_started_when_positive
        CHECK (progress = 0 OR status <> 'not_started')
) WITH (fillfactor = 80);

-- Event ids already applied (by any write function), for exactly-once processing of redelivered
-- events: unique per player, (user_id, event_id), the key a table distributed by user_id can enforce.
-- Pruned by age (the dedup window: docs/api.md, prune_processed_events).
CREATE TABLE challenge.processed_events (
    user_id text NOT NULL,
    event_id text NOT NULL
        CONSTRAINT processed_events_id_length CHECK (length(event_id) BETWEEN 1 AND 100),
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, event_id)
);

-- Event ids remembered before revision 0008, which carry no player: while this table holds rows, the
-- writes treat an id found here as seen (prune_processed_events empties it by age). Empty on a database
-- created at 0008 or later.
CREATE TABLE challenge.processed_events_legacy (
    event_id text
        CONSTRAINT processed_events_legacy_pkey PRIMARY KEY
        CONSTRAINT processed_events_legacy_id_length CHECK (length(event_id) BETWEEN 1 AND 100),
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Ordered sources (a Kafka partition, a replicated log, a file read in order): the highest position
-- applied per (source, partition), advanced in the same transaction as the effects (record_events by
-- source position), and the epoch of the consumer that holds the partition (a lower one is fenced off).
CREATE TABLE challenge.source_positions (
    source text NOT NULL
        CONSTRAINT source_positions_source_length CHECK (length(source) BETWEEN 1 AND 200),
    partition text NOT NULL
        CONSTRAINT source_positions_partition_length CHECK (length(partition) BETWEEN 0 AND 200),
    -- -1: nothing applied yet.
    position bigint NOT NULL,
    epoch bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (source, partition)
);

-- The row shape every function that returns progress uses (docs/api.md section 2), and a read-only view of
-- every player's goals AS OF NOW: a row still in an earlier rotation period shows what the first write
-- of the current period would leave (reset to not_started/0 when the goal resets and the row is not a
-- claim that stays claimed), and expires_at is the end of the current period. Nothing is written.
CREATE VIEW challenge.goal_progress AS
SELECT
    p.user_id,
    p.goal_id,
    g.challenge_id,
    p.namespace,
    CASE WHEN r.is_reset THEN 0 ELSE p.progress END AS progress,
    g.target,
    CASE WHEN r.is_reset THEN 'not_started' ELSE p.status END AS status,
    p.is_active,
    p.assigned_at,
    CASE WHEN r.is_reset THEN NULL ELSE p.completed_at END AS completed_at,
    CASE WHEN r.is_reset THEN NULL ELSE p.claimed_at END AS claimed_at,
    coalesce(r.current_period_end, p.expires_at) AS expires_at,
    p.updated_at
FROM challenge.progress AS p
JOIN challenge.goals AS g ON g.goal_id = p.goal_id
-- The current period, spelled out as in challenge._period_start/_period_end (functions load after this
-- file); tests/sql/test_rotation.py checks the two agree.
CROSS JOIN LATERAL (
    SELECT
        pg_catalog.date_trunc(t.unit, now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS current_period_start,
        (pg_catalog.date_trunc(t.unit, now() AT TIME ZONE 'UTC') + t.length) AT TIME ZONE 'UTC'
            AS current_period_end
    FROM (
        SELECT
            CASE g.period_schedule WHEN 'daily' THEN 'day' WHEN 'weekly' THEN 'week' WHEN 'monthly' THEN 'month' END
                AS unit,
            CASE g.period_schedule
                WHEN 'daily' THEN interval '1 day'
                WHEN 'weekly' THEN interval '7 days'
                WHEN 'monthly' THEN interval '1 month'
            END AS length
    ) AS t
) AS c
CROSS JOIN LATERAL (
    SELECT
        c.current_period_start,
        c.current_period_end,
        coalesce(
            g.period_resets
                AND coalesce(p.period_start, '-infinity') < c.current_period_start
                AND (p.status <> 'claimed' OR g.period_reselects),
            false
        ) AS is_reset
) AS r;

-- Claims and their reward grants, one row per claim (the player and the claim id are the key, and the
-- idempotency key the reward worker sends to the game platform). claim_goal writes the row in the claim's own
-- transaction; the reward is granted later, outside any claim transaction, by a worker that leases
-- pending rows (lease_reward_grants) and records the result (finish_reward_grant). The reward is
-- copied from the catalog at claim time, so a later config reload cannot change what a claim grants.
-- Rows are kept after delivery: they are the claim history, and they answer a retried claim id.
CREATE TABLE challenge.reward_grants (
    claim_id text NOT NULL
        CONSTRAINT reward_grants_claim_id_length CHECK (length(claim_id) BETWEEN 1 AND 100),
    user_id text NOT NULL
        CONSTRAINT reward_grants_user_id_length CHECK (length(user_id) BETWEEN 1 AND 100),
    goal_id text NOT NULL REFERENCES challenge.goals (goal_id),
    namespace text NOT NULL,
    reward_type text NOT NULL
        CONSTRAINT reward_grants_reward_type_valid CHECK (reward_type IN ('ITEM', 'WALLET')),
    reward_id text NOT NULL,
    quantity integer NOT NULL
        CONSTRAINT reward_grants_quantity_positive CHECK (quantity > 0),
    claimed_at timestamptz NOT NULL,
    state text NOT NULL
        CONSTRAINT reward_grants_state_valid CHECK (state IN ('pending', 'granted', 'failed')),
    -- Leases handed out so far (a lease that expires without a result counts as a failed attempt).
    attempts integer NOT NULL DEFAULT 0
        CONSTRAINT reward_grants_attempts_non_negative CHECK (attempts >= 0),
    -- After this many attempts the grant is left failed for an operator; per row, so an operator can
    -- retry one grant by raising it and setting the state back to pending.
    max_attempts integer NOT NULL DEFAULT 10
        CONSTRAINT reward_grants_max_attempts_positive CHECK (max_attempts > 0),
    -- A pending grant can be leased from this time on: claim time, the end of a lease (so an expired
    -- lease returns the grant to the pool), or the end of a retry backoff.
    available_at timestamptz NOT NULL,
    leased_by text,
    leased_until timestamptz,
    last_error text,
    -- When the grant reached its final state, granted or failed.
    finished_at timestamptz,
    updated_at timestamptz NOT NULL,
    -- What the reward worker sends the game platform as the grant's idempotency key, the same on every
    -- attempt: the player and the claim id (length-prefixed, so no two pairs give one key), since claim
    -- ids are unique per player only; the bare claim id for grants claimed before revision 0010, when
    -- claim ids were unique across players (and a grant retried after the upgrade keeps its key).
    idempotency_key text NOT NULL,
    CONSTRAINT reward_grants_finished_at_matches_state
        CHECK ((finished_at IS NOT NULL) = (state <> 'pending')),
    -- Claim ids are unique per player: the key a table distributed by user_id can enforce.
    CONSTRAINT reward_grants_pkey PRIMARY KEY (user_id, claim_id)
);

-- The pool lease_reward_grants takes from: only pending rows, oldest due first.
CREATE INDEX reward_grants_due_idx ON challenge.reward_grants (available_at, claim_id)
    WHERE state = 'pending';

-- One player's claims (replay checks, GDPR deletion).
CREATE INDEX reward_grants_user_idx ON challenge.reward_grants (user_id, goal_id);

-- Maintenance: rows past their period (delete_expired_progress). expires_at changes only when a
-- period rolls over, so this index does not cost the per-event updates their HOT path.
CREATE INDEX progress_expires_at_idx ON challenge.progress (expires_at)
    WHERE expires_at IS NOT NULL;

-- Maintenance: pruning remembered event ids by age (prune_processed_events). Ids arrive in time order,
-- so a BRIN summary finds the old pages for a fraction of what a B-tree insert per id would cost.
CREATE INDEX processed_events_processed_at_brin ON challenge.processed_events USING brin (processed_at);
CREATE INDEX processed_events_legacy_processed_at_idx ON challenge.processed_events_legacy (processed_at);

-- The row lease_reward_grants and finish_reward_grant return.
CREATE TYPE challenge.reward_grant AS (
    claim_id text,
    user_id text,
    goal_id text,
    namespace text,
    reward_type text,
    reward_id text,
    quantity integer,
    claimed_at timestamptz,
    state text,
    attempts integer,
    max_attempts integer,
    available_at timestamptz,
    leased_by text,
    leased_until timestamptz,
    last_error text,
    finished_at timestamptz,
    idempotency_key text
);

-- The audit ledger: one row per change of a progress row (assignment, increment, absolute value,
-- rotation, claim, expiry), written by the function that makes the change, in the same transaction.
-- Append-only; explain_progress reads one row's history from it. Partitioned by day of recorded_at
-- (UTC), so retention is a partition drop (prune_ledger); create_ledger_partitions makes the coming
-- days' partitions ahead of time, and rows of a day without one land in ledger_default, never lost.
-- Switched per deployment by challenge.set_ledger (on by default; pgchallenge.ledger = on records a
-- session's writes while it is off).
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
    occurred_at timestamptz,
    -- The row's version after the change (challenge.progress.version; a deletion: the next one): the
    -- order of one row's changes. NULL for changes recorded before revision 0011.
    row_version bigint
) PARTITION BY RANGE (recorded_at);

ALTER SEQUENCE challenge.ledger_change_id_seq OWNED BY challenge.ledger.change_id;

CREATE TABLE challenge.ledger_default PARTITION OF challenge.ledger DEFAULT;

-- explain_progress and delete_user_data: one player's (or one row's) history, in order.
CREATE INDEX ledger_row_idx ON challenge.ledger (user_id, goal_id, change_id);

-- One write for the write engine (challenge._apply_writes): what every write path parses its payload
-- into. ord: 1..n, the order the rules follow; is_set: an absolute value (else an increment); amount:
-- the delta, or the value (NULL: a statistic event without one, for an absolute goal); inc: a value's
-- change, for relative goals' baselines; event_id: labels the ledger row.
CREATE TYPE challenge._write AS (
    ord integer,
    user_id text,
    goal_id text,
    is_set boolean,
    amount integer,
    inc integer,
    event_id text,
    occurred_at timestamptz
);

-- Least privilege (revision 0009): the deployment's three group roles, NOLOGIN, named when migrating
-- (alembic -x role_prefix=... or -x app_role=..., see the README's "Migrating a real database"):
--   app     the game service: writes, reads, claims, ingestion;
--   reader  reads, explain_progress and status, nothing that writes;
--   admin   config loading, maintenance, data deletion, the reward outbox, reads and status.
-- Which function each may execute is declared once, in challenge._access_rules, and applied by
-- challenge._apply_access; tables, views and sequences grant nothing to anyone but their owner, and
-- every public function runs with its owner's rights (SECURITY DEFINER, a pinned search_path).
-- created_by_migration: the migration created the role (a downgrade drops only those, and only while
-- nothing else depends on them).
CREATE TABLE challenge.deployment_roles (
    kind text PRIMARY KEY
        CONSTRAINT deployment_roles_kind_valid CHECK (kind IN ('app', 'reader', 'admin')),
    role_name name NOT NULL
        CONSTRAINT deployment_roles_role_name_key UNIQUE,
    created_by_migration boolean NOT NULL
);

-- Deployment-wide settings:
--   ledger                   on or off: the audit ledger's switch (challenge.set_ledger; absent: on);
--   default_execute_revoked  a migration's change outside this schema, for its downgrade to undo: the
--                            migrating role's default privileges no longer grant EXECUTE on new
--                            functions to PUBLIC (they did before the migration).
CREATE TABLE challenge.deployment_settings (
    name text PRIMARY KEY,
    value text NOT NULL
);

-- One row per load_config call: the version a status check reports, and when it was loaded. digest: the
-- SHA-256 of the document as PostgreSQL normalises jsonb, so reloading the same config gives the same one.
CREATE TABLE challenge.config_loads (
    version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loaded_at timestamptz NOT NULL,
    digest text NOT NULL,
    challenges integer NOT NULL,
    goals integer NOT NULL
);

-- status: counting failed grants without reading the delivered ones (they are kept as claim history).
CREATE INDEX reward_grants_failed_idx ON challenge.reward_grants (finished_at) WHERE state = 'failed';
