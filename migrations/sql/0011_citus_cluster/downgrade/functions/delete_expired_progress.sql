-- challenge.delete_expired_progress(p_retention interval DEFAULT '7 days', p_batch_size integer
--     DEFAULT 1000) RETURNS bigint
--
-- Deletes up to p_batch_size progress rows whose expires_at is more than p_retention in the past
-- (strictly older than now() - p_retention; rows with no expires_at never expire), whatever their
-- status, oldest first, and returns how many it deleted. Call it again until it returns less than
-- p_batch_size (pgchallenge maintain does). Rows locked by a writer or by a concurrent call are
-- skipped (SKIP LOCKED), so several cleaners do not contend and never block the writers for long.
-- Reward grants are not progress: a claim's grant row stays (and is still delivered). Each deleted
-- row adds an 'expire' row (its last state, nothing after) to the audit ledger. Bad arguments raise
-- CH003.
CREATE OR REPLACE FUNCTION challenge.delete_expired_progress(
    p_retention interval DEFAULT '7 days',
    p_batch_size integer DEFAULT 1000
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_deleted bigint;
BEGIN
    PERFORM challenge._check_maintenance_args(p_retention, p_batch_size);

    WITH doomed AS (
        SELECT p.user_id, p.goal_id
        FROM challenge.progress AS p
        WHERE p.expires_at < clock_timestamp() - p_retention
        ORDER BY p.expires_at
        LIMIT p_batch_size
        FOR UPDATE OF p SKIP LOCKED
    ),
    gone AS (
        DELETE FROM challenge.progress AS p
        USING doomed AS d
        -- By key, not by row address (which repeats across the shards of a table sharded by user_id).
        WHERE p.user_id = d.user_id
            AND p.goal_id = d.goal_id
        RETURNING p.user_id, p.goal_id, p.progress, p.status, p.period_start
    ),
    logged AS (
        INSERT INTO challenge.ledger (
            user_id, goal_id, operation, progress_before, status_before, period_start
        )
        SELECT g.user_id, g.goal_id, 'expire', g.progress, g.status, g.period_start
        FROM gone AS g
        WHERE challenge._ledger_enabled()
    )
    SELECT count(*)
    INTO v_deleted
    FROM gone;
    RETURN v_deleted;
END;
$function$;
