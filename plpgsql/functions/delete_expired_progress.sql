-- challenge.delete_expired_progress(p_retention interval DEFAULT '7 days', p_batch_size integer
--     DEFAULT 1000) RETURNS bigint
--
-- Deletes up to p_batch_size progress rows whose expires_at is more than p_retention in the past
-- (strictly older than now() - p_retention; rows with no expires_at never expire), whatever their
-- status, oldest first, and returns how many it deleted. Call it again until it returns less than
-- p_batch_size (pgchallenge maintain does). Rows locked by a writer or by a concurrent call are
-- skipped (SKIP LOCKED), so several cleaners do not contend and never block the writers for long. On
-- a Citus cluster, which cannot lock rows across shards, it re-checks each row's expiry in the delete
-- instead (challenge._row_lock) and waits for a row a writer holds.
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

    -- Dynamic SQL for the row-lock clause only (challenge._row_lock: none on a Citus cluster); the
    -- delete re-checks the expiry, so a row a writer moved into a new period in between stays.
    EXECUTE format(
        $statement$
        WITH doomed AS (
            SELECT p.user_id, p.goal_id
            FROM challenge.progress AS p
            WHERE p.expires_at < $1
            ORDER BY p.expires_at
            LIMIT $2
            %s
        ),
        gone AS (
            DELETE FROM challenge.progress AS p
            USING doomed AS d
            -- By key, not by row address (which repeats across the shards of a table sharded by user_id).
            WHERE p.user_id = d.user_id
                AND p.goal_id = d.goal_id
                AND p.expires_at < $1
            RETURNING p.user_id, p.goal_id, p.progress, p.status, p.period_start, p.version
        ),
        logged AS (
            INSERT INTO challenge.ledger (
                user_id, goal_id, operation, progress_before, status_before, period_start, row_version
            )
            -- The row's last change was its version; its deletion is the next.
            SELECT g.user_id, g.goal_id, 'expire', g.progress, g.status, g.period_start, g.version + 1
            FROM gone AS g
            WHERE challenge._ledger_enabled()
        )
        SELECT count(*) FROM gone
        $statement$,
        challenge._row_lock('p')
    )
    INTO v_deleted
    USING clock_timestamp() - p_retention, p_batch_size;
    RETURN v_deleted;
END;
$function$;
