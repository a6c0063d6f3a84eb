-- challenge.claim_goal(p_user_id text, p_goal_id text, p_claim_id text DEFAULT NULL)
--     RETURNS TABLE (claim_id text, user_id text, goal_id text, reward_type text, reward_id text,
--                    quantity integer, claimed_at timestamptz, replayed boolean)
--
-- Claims a completed goal's reward, exactly once. Locks the player's row, then:
--   - a p_claim_id already recorded for this (user, goal) returns that original claim with
--     replayed = true, whatever happened to the row since (a retry after a lost answer must get the
--     answer it lost); a p_claim_id this player used for another goal raises CH003 (claim ids are
--     unique per player: another player's claim with the same id is another claim);
--   - otherwise checks, in this order: unknown or retired goal CH010 goal_not_found; no row, or not
--     completed CH021 goal_not_completed; inactive CH020 goal_not_active; the goal's period rotated
--     since completion and its onExpiry rule resets the row CH024 goal_rotated; a prerequisite without a
--     completed or claimed row (over all the player's rows, any challenge) CH023
--     prerequisites_not_met, the missing ids in DETAIL; already claimed CH022 goal_already_claimed.
-- Then, in this transaction: marks the row claimed, writes a pending reward grant (the outbox row,
-- keyed by the player and the claim id) and sends NOTIFY pgchallenge_reward_grants (payload: the claim
-- id), which PostgreSQL delivers at commit. Nothing outside the database is called here: the reward is granted
-- later by a worker (lease_reward_grants / finish_reward_grant). Without p_claim_id a random UUID is
-- the claim id (such a claim cannot be replayed: keep and send your own id to retry safely).
-- Concurrent claims of one row queue on its lock: one wins, the others see it claimed (CH022), or
-- their own claim id (replay).
CREATE OR REPLACE FUNCTION challenge.claim_goal(
    p_user_id text,
    p_goal_id text,
    p_claim_id text DEFAULT NULL
)
RETURNS TABLE (
    claim_id text,
    user_id text,
    goal_id text,
    reward_type text,
    reward_id text,
    quantity integer,
    claimed_at timestamptz,
    replayed boolean
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_claim_id text := coalesce(p_claim_id, gen_random_uuid()::text);
    v_has_row boolean;
    v_status text;
    v_is_active boolean;
    v_namespace text;
    v_progress integer;
    v_target integer;
    v_reward_type text;
    v_reward_id text;
    v_quantity integer;
    v_prerequisites text[];
    v_missing text[];
    v_period_start timestamptz;
    v_schedule text;
    v_period_resets boolean;
    v_period_reselects boolean;
    v_current_period timestamptz;
    v_prior challenge.reward_grants%ROWTYPE;
BEGIN
    PERFORM challenge._check_identifier('user_id', p_user_id);
    PERFORM challenge._check_identifier('goal_id', p_goal_id);
    PERFORM challenge._check_identifier('claim_id', v_claim_id);

    -- The row lock comes first: concurrent claims of one row wait here, and every statement after the
    -- wait runs on a new snapshot, so it sees whatever the previous holder committed.
    SELECT p.status, p.is_active, p.namespace, p.progress, p.period_start
    INTO v_status, v_is_active, v_namespace, v_progress, v_period_start
    FROM challenge.progress AS p
    WHERE p.user_id = p_user_id
        AND p.goal_id = p_goal_id
    FOR NO KEY UPDATE OF p;
    v_has_row := FOUND;

    IF p_claim_id IS NOT NULL THEN
        -- Claim ids are unique per player (the key a table distributed by user_id can enforce): another
        -- player's claim with the same id is another claim.
        SELECT r.*
        INTO v_prior
        FROM challenge.reward_grants AS r
        WHERE r.user_id = p_user_id
            AND r.claim_id = p_claim_id;
        IF FOUND THEN
            IF v_prior.goal_id <> p_goal_id THEN
                RAISE EXCEPTION USING
                    ERRCODE = 'CH003',
                    MESSAGE = format('invalid argument: claim id %s belongs to another claim', p_claim_id),
                    DETAIL = format('It claimed goal %s for this player.', v_prior.goal_id),
                    HINT = 'Use a new claim id for every (player, goal) claim; reuse it only to retry.';
            END IF;
            RETURN QUERY
            SELECT
                v_prior.claim_id,
                v_prior.user_id,
                v_prior.goal_id,
                v_prior.reward_type,
                v_prior.reward_id,
                v_prior.quantity,
                v_prior.claimed_at,
                true;
            RETURN;
        END IF;
    END IF;

    SELECT
        g.target, g.reward_type, g.reward_id, g.reward_quantity, g.prerequisites, g.period_schedule,
        g.period_resets, g.period_reselects
    INTO
        v_target, v_reward_type, v_reward_id, v_quantity, v_prerequisites, v_schedule, v_period_resets,
        v_period_reselects
    FROM challenge.goals AS g
    WHERE g.goal_id = p_goal_id
        AND g.retired_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH010',
            MESSAGE = format('goal %s not found', p_goal_id),
            HINT = 'Goal ids come from the loaded config; retired goals cannot be claimed.';
    END IF;

    IF NOT v_has_row OR v_status NOT IN ('completed', 'claimed') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH021',
            MESSAGE = format('goal %s is not completed', p_goal_id),
            DETAIL = CASE
                WHEN NOT v_has_row THEN format('The goal is not assigned to player %s.', p_user_id)
                ELSE format('Status is %s, progress %s of %s.', v_status, v_progress, v_target)
            END;
    END IF;

    IF NOT v_is_active THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH020',
            MESSAGE = format('goal %s is not active', p_goal_id),
            HINT = 'Activate it first (challenge.set_goal_active or challenge.select_goals).';
    END IF;

    -- The goal's period rotated since the row completed, and its onExpiry rule resets the row: the
    -- completion belongs to a period that is over. (A goal that carries progress over stays claimable:
    -- its completion still shows; the reference refused those too.)
    v_current_period := challenge._period_start(v_schedule, v_now);
    IF v_current_period > coalesce(v_period_start, '-infinity')
        AND v_period_resets
        AND (v_status <> 'claimed' OR v_period_reselects)
    THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH024',
            MESSAGE = format('goal %s rotated: its %s period ended', p_goal_id, v_schedule),
            DETAIL = format(
                'The completion belongs to the period that started at %s; the current one started at %s.',
                coalesce(v_period_start::text, 'an earlier time'),
                v_current_period
            ),
            HINT = 'Progress starts again in the new period.';
    END IF;

    SELECT array_agg(q.goal_id ORDER BY q.goal_id)
    INTO v_missing
    FROM unnest(v_prerequisites) AS q(goal_id)
    WHERE NOT EXISTS (
        SELECT
        FROM challenge.progress AS p
        WHERE p.user_id = p_user_id
            AND p.goal_id = q.goal_id
            AND p.status IN ('completed', 'claimed')
    );
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH023',
            MESSAGE = format('prerequisites of goal %s are not met', p_goal_id),
            DETAIL = format('Missing prerequisites: %s.', array_to_string(v_missing, ', ')),
            HINT = 'A prerequisite is met once the player has completed (or claimed) it.';
    END IF;

    IF v_status = 'claimed' THEN
        SELECT r.*
        INTO v_prior
        FROM challenge.reward_grants AS r
        WHERE r.user_id = p_user_id
            AND r.goal_id = p_goal_id
        ORDER BY r.claimed_at DESC
        LIMIT 1;
        RAISE EXCEPTION USING
            ERRCODE = 'CH022',
            MESSAGE = format('goal %s is already claimed', p_goal_id),
            DETAIL = CASE
                WHEN v_prior.claim_id IS NOT NULL
                    THEN format('Claim %s claimed it at %s.', v_prior.claim_id, v_prior.claimed_at)
            END,
            HINT = 'To retry a claim safely, send the same claim id again: it returns the original claim.';
    END IF;

    -- The outbox row first: a claim id the player used concurrently for another goal (a caller bug)
    -- makes this insert wait for it and then do nothing, and the whole call fails before the row is
    -- touched.
    INSERT INTO challenge.reward_grants AS r (
        claim_id, user_id, goal_id, namespace, reward_type, reward_id, quantity, claimed_at,
        state, available_at, updated_at, idempotency_key
    )
    VALUES (
        v_claim_id, p_user_id, p_goal_id, v_namespace, v_reward_type, v_reward_id, v_quantity, v_now,
        'pending', v_now, v_now, length(p_user_id)::text || ':' || p_user_id || ':' || v_claim_id
    )
    ON CONFLICT ON CONSTRAINT reward_grants_pkey DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: claim id %s belongs to another claim', v_claim_id),
            HINT = 'Use a new claim id for every (player, goal) claim; reuse it only to retry.';
    END IF;

    -- A claim is a write: a row of a goal that carries progress over moves to the current period.
    -- The row is locked since the first read, so v_status and v_period_start are its state before.
    WITH claimed AS (
        UPDATE challenge.progress AS p
        SET
            status = 'claimed',
            claimed_at = v_now,
            period_start = greatest(p.period_start, v_current_period),
            expires_at = coalesce(challenge._period_end(v_schedule, v_now), p.expires_at),
            updated_at = v_now,
            version = p.version + 1
        WHERE p.user_id = p_user_id
            AND p.goal_id = p_goal_id
        RETURNING p.progress, p.status, p.period_start, p.version
    )
    INSERT INTO challenge.ledger (
        user_id, goal_id, operation, progress_before, progress_after, status_before, status_after, rotated,
        period_start, row_version
    )
    SELECT
        p_user_id, p_goal_id, 'claim', c.progress, c.progress, v_status, c.status,
        c.period_start IS DISTINCT FROM v_period_start, c.period_start, c.version
    FROM claimed AS c
    WHERE challenge._ledger_enabled();

    -- Delivered at commit, and only if the claim commits: a worker never wakes for a rolled-back claim.
    PERFORM pg_notify('pgchallenge_reward_grants', v_claim_id);

    RETURN QUERY
    SELECT v_claim_id, p_user_id, p_goal_id, v_reward_type, v_reward_id, v_quantity, v_now, false;
END;
$function$;
