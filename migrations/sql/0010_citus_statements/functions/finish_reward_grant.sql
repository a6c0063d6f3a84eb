-- challenge.finish_reward_grant(p_user_id text, p_claim_id text, p_granted boolean, p_error text DEFAULT NULL)
--     RETURNS challenge.reward_grant
--
-- Records the result of one grant attempt (made by a worker that leased it) and ends the lease. The grant
-- is the player's claim p_claim_id (claim ids are unique per player; a leased grant carries both).
-- p_granted = true: the grant becomes granted, for good. p_granted = false: p_error is kept in
-- last_error and the grant is due again after a backoff of 5 s * 2^(attempts - 1), at most 1 hour
-- (5 s, 10 s, 20 s, ... about 43 minutes over the default 10 attempts); once attempts reaches
-- max_attempts it is left failed for an operator instead. Returns the grant as it is afterwards.
-- Idempotent where it must be: a result for a grant that is already granted changes nothing (two
-- workers may both finish one grant after a lease expired; the platform saw one idempotency key); a
-- success reported late for a grant already left failed makes it granted, because the reward was
-- delivered. Unknown claim, or p_granted NULL: CH003.
-- The grant is read and locked first, by its key, and the new values are computed into variables: the
-- UPDATE reaches one row by (user_id, claim_id) and holds no computation Citus would refuse.
CREATE OR REPLACE FUNCTION challenge.finish_reward_grant(
    p_user_id text,
    p_claim_id text,
    p_granted boolean,
    p_error text DEFAULT NULL
)
RETURNS challenge.reward_grant
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_row challenge.reward_grant;
    v_final boolean;
BEGIN
    PERFORM challenge._check_identifier('user_id', p_user_id);
    PERFORM challenge._check_identifier('claim_id', p_claim_id);
    IF p_granted IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = 'invalid argument: granted must be true or false, not NULL';
    END IF;

    SELECT
        r.claim_id,
        r.user_id,
        r.goal_id,
        r.namespace,
        r.reward_type,
        r.reward_id,
        r.quantity,
        r.claimed_at,
        r.state,
        r.attempts,
        r.max_attempts,
        r.available_at,
        r.leased_by,
        r.leased_until,
        r.last_error,
        r.finished_at,
        r.idempotency_key
    INTO v_row
    FROM challenge.reward_grants AS r
    WHERE r.user_id = p_user_id
        AND r.claim_id = p_claim_id
    FOR NO KEY UPDATE OF r;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: no reward grant for claim id %s of player %s', p_claim_id,
                             p_user_id),
            HINT = 'Claims and their players come from challenge.lease_reward_grants.';
    END IF;
    -- Nothing to change: the grant is already final (a failure reported for a granted or failed grant,
    -- or a success for a granted one).
    IF NOT (v_row.state = 'pending' OR (p_granted AND v_row.state = 'failed')) THEN
        RETURN v_row;
    END IF;

    v_final := p_granted OR v_row.attempts >= v_row.max_attempts;
    v_row.state := CASE WHEN p_granted THEN 'granted' WHEN v_final THEN 'failed' ELSE 'pending' END;
    IF NOT v_final THEN
        v_row.available_at := v_now
            + least(interval '1 hour', interval '5 seconds' * power(2, greatest(v_row.attempts - 1, 0)));
    END IF;
    v_row.leased_by := NULL;
    v_row.leased_until := NULL;
    IF NOT p_granted THEN
        v_row.last_error := coalesce(p_error, 'grant failed (no error given)');
    END IF;
    v_row.finished_at := CASE WHEN v_final THEN v_now END;

    UPDATE challenge.reward_grants AS r
    SET
        state = v_row.state,
        available_at = v_row.available_at,
        leased_by = NULL,
        leased_until = NULL,
        last_error = v_row.last_error,
        finished_at = v_row.finished_at,
        updated_at = v_now
    WHERE r.user_id = p_user_id
        AND r.claim_id = p_claim_id;
    RETURN v_row;
END;
$function$;
