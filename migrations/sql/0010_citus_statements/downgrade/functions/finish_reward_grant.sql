-- challenge.finish_reward_grant(p_claim_id text, p_granted boolean, p_error text DEFAULT NULL)
--     RETURNS challenge.reward_grant
--
-- Records the result of one grant attempt (made by a worker that leased it) and ends the lease.
-- p_granted = true: the grant becomes granted, for good. p_granted = false: p_error is kept in
-- last_error and the grant is due again after a backoff of 5 s * 2^(attempts - 1), at most 1 hour
-- (5 s, 10 s, 20 s, ... about 43 minutes over the default 10 attempts); once attempts reaches
-- max_attempts it is left failed for an operator instead. Returns the grant as it is afterwards.
-- Idempotent where it must be: a result for a grant that is already granted changes nothing (two
-- workers may both finish one grant after a lease expired; the platform saw one idempotency key); a
-- success reported late for a grant already left failed makes it granted, because the reward was
-- delivered. Unknown claim id, or p_granted NULL: CH003.
CREATE OR REPLACE FUNCTION challenge.finish_reward_grant(
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
BEGIN
    PERFORM challenge._check_identifier('claim_id', p_claim_id);
    IF p_granted IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = 'invalid argument: granted must be true or false, not NULL';
    END IF;

    UPDATE challenge.reward_grants AS r
    SET
        state = CASE
            WHEN p_granted THEN 'granted'
            WHEN r.attempts >= r.max_attempts THEN 'failed'
            ELSE 'pending'
        END,
        available_at = CASE
            WHEN p_granted OR r.attempts >= r.max_attempts THEN r.available_at
            ELSE v_now + least(interval '1 hour', interval '5 seconds' * power(2, greatest(r.attempts - 1, 0)))
        END,
        leased_by = NULL,
        leased_until = NULL,
        last_error = CASE
            WHEN p_granted THEN r.last_error
            ELSE coalesce(p_error, 'grant failed (no error given)')
        END,
        finished_at = CASE
            WHEN p_granted OR r.attempts >= r.max_attempts THEN v_now
        END,
        updated_at = v_now
    WHERE r.claim_id = p_claim_id
        AND (r.state = 'pending' OR (p_granted AND r.state = 'failed'))
    RETURNING
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
        r.finished_at
    INTO v_row;
    IF FOUND THEN
        RETURN v_row;
    END IF;

    -- Nothing to change: the grant is already final, or there is no such grant.
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
        r.finished_at
    INTO v_row
    FROM challenge.reward_grants AS r
    WHERE r.claim_id = p_claim_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: no reward grant for claim id %s', p_claim_id),
            HINT = 'Claim ids come from challenge.lease_reward_grants.';
    END IF;
    RETURN v_row;
END;
$function$;
