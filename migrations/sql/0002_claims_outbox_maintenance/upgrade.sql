-- Revision 0002: the reward-grant outbox (claims), and indexes for maintenance.

-- Claims and their reward grants, one row per claim (the claim id is the key, and the idempotency key
-- the reward worker sends to the game platform). claim_goal writes the row in the claim's own
-- transaction; the reward is granted later, outside any claim transaction, by a worker that leases
-- pending rows (lease_reward_grants) and records the result (finish_reward_grant). The reward is
-- copied from the catalog at claim time, so a later config reload cannot change what a claim grants.
-- Rows are kept after delivery: they are the claim history, and they answer a retried claim id.
CREATE TABLE challenge.reward_grants (
    claim_id text PRIMARY KEY
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
    CONSTRAINT reward_grants_finished_at_matches_state
        CHECK ((finished_at IS NOT NULL) = (state <> 'pending'))
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

-- Maintenance: pruning remembered event ids by age (prune_processed_events).
CREATE INDEX processed_events_processed_at_idx ON challenge.processed_events (processed_at);

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
    finished_at timestamptz
);
