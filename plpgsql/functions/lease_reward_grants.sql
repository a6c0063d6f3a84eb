-- challenge.lease_reward_grants(p_worker text, p_limit integer, p_lease interval DEFAULT '1 minute')
--     RETURNS SETOF challenge.reward_grant
--
-- Hands up to p_limit pending reward grants that are due to one worker (p_worker names it, for
-- operators), oldest first, and leases them to it for p_lease: until the lease ends no other call
-- returns them. The worker grants each reward with its player and claim id as the idempotency key
-- (claim ids are unique per player), then records the result with challenge.finish_reward_grant. A
-- lease that ends without a result (the worker died or hung) returns the grant to the pool, and the
-- next lease hands it out again with the same key. Each lease counts as an attempt; a grant whose
-- lease expired on its last attempt (max_attempts, default 10) is left failed instead of being leased
-- again. Rows locked by a concurrent lease are skipped (FOR UPDATE SKIP LOCKED), so workers never wait
-- for each other or get the same grant. On a Citus cluster, which cannot lock rows across shards, the
-- lease re-checks each grant instead (challenge._row_lock): no grant is leased twice, and concurrent
-- leases wait for each other.
-- Returns fewer rows than p_limit only when fewer are due. Bad arguments raise CH003.
CREATE OR REPLACE FUNCTION challenge.lease_reward_grants(
    p_worker text,
    p_limit integer,
    p_lease interval DEFAULT '1 minute'
)
RETURNS SETOF challenge.reward_grant
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_lease_until timestamptz;
    -- The leased grants' keys, (player, claim id), as two parallel arrays.
    v_leased_users text[] := '{}'::text[];
    v_leased_claims text[] := '{}'::text[];
    v_batch_users text[];
    v_batch_claims text[];
    v_picked bigint;
BEGIN
    PERFORM challenge._check_identifier('worker', p_worker);
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: limit must be an integer between 1 and 10000, got %s',
                             coalesce(p_limit::text, 'NULL'));
    END IF;
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: lease must be a positive interval, got %s',
                             coalesce(p_lease::text, 'NULL'));
    END IF;
    v_lease_until := v_now + p_lease;

    -- Usually one pass; see the end of the loop for when another runs, so that a run of exhausted grants
    -- cannot starve the caller.
    LOOP
        -- Dynamic SQL for the row-lock clause only (challenge._row_lock: none on a Citus cluster); the
        -- update re-checks that each grant is still pending and due, so no grant is leased twice.
        EXECUTE format(
            $statement$
            WITH picked AS (
                SELECT r.user_id, r.claim_id
                FROM challenge.reward_grants AS r
                WHERE r.state = 'pending'
                    AND r.available_at <= $1
                ORDER BY r.available_at, r.user_id, r.claim_id
                LIMIT $2
                %s
            ),
            changed AS (
                UPDATE challenge.reward_grants AS r
                SET
                    state = CASE WHEN r.attempts >= r.max_attempts THEN 'failed' ELSE 'pending' END,
                    attempts = r.attempts + CASE WHEN r.attempts >= r.max_attempts THEN 0 ELSE 1 END,
                    -- The lease end doubles as the time the grant is due again: an expired lease needs
                    -- no sweeper, the grant is simply in the pool once more.
                    available_at = CASE WHEN r.attempts >= r.max_attempts THEN r.available_at ELSE $4 END,
                    leased_by = CASE WHEN r.attempts >= r.max_attempts THEN r.leased_by ELSE $3 END,
                    leased_until = CASE WHEN r.attempts >= r.max_attempts THEN NULL ELSE $4 END,
                    -- Plain concatenation (immutable), not format() or concat_ws(): Citus refuses a
                    -- non-immutable call inside a CASE of SET.
                    last_error = CASE
                        WHEN r.attempts >= r.max_attempts THEN coalesce(r.last_error || '; ', '')
                            || 'lease of ' || coalesce(r.leased_by, '') || ' expired on the last attempt'
                        ELSE r.last_error
                    END,
                    finished_at = CASE WHEN r.attempts >= r.max_attempts THEN $1 END,
                    updated_at = $1
                FROM picked AS k
                WHERE r.user_id = k.user_id
                    AND r.claim_id = k.claim_id
                    AND r.state = 'pending'
                    AND r.available_at <= $1
                RETURNING r.user_id, r.claim_id, r.state = 'failed' AS exhausted
            )
            SELECT
                coalesce(
                    array_agg(c.user_id ORDER BY c.user_id, c.claim_id) FILTER (WHERE NOT c.exhausted), '{}'
                ),
                coalesce(
                    array_agg(c.claim_id ORDER BY c.user_id, c.claim_id) FILTER (WHERE NOT c.exhausted), '{}'
                ),
                (SELECT count(*) FROM picked)
            FROM changed AS c
            $statement$,
            challenge._row_lock('r')
        )
        INTO v_batch_users, v_batch_claims, v_picked
        USING v_now, p_limit - cardinality(v_leased_claims), p_worker, v_lease_until;

        v_leased_users := v_leased_users || v_batch_users;
        v_leased_claims := v_leased_claims || v_batch_claims;
        -- Another pass only when this one leased fewer grants than it picked: it met exhausted grants
        -- (failed instead of leased), or, without row locks, grants another lease took in between.
        EXIT WHEN cardinality(v_batch_claims) = v_picked
            OR cardinality(v_leased_claims) >= p_limit;
    END LOOP;

    RETURN QUERY
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
    FROM unnest(v_leased_users, v_leased_claims) AS k (user_id, claim_id)
    JOIN challenge.reward_grants AS r ON r.user_id = k.user_id AND r.claim_id = k.claim_id
    ORDER BY r.claimed_at, r.user_id, r.claim_id;
END;
$function$;
