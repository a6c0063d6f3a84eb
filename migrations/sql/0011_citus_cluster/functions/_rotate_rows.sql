-- challenge._rotate_rows(p_user_id text, p_goal_ids text[]) RETURNS void
--
-- Private. Moves the player's rows of these goals that are still in an earlier rotation period into the
-- current one, applying each goal's onExpiry rule (reset to not_started/0, claimed rows only when
-- re-selection is allowed; or carry progress over), and sets expires_at to the end of the current
-- period. Activation and selection call it: they are writes, and the first write in a new period
-- applies onExpiry. Rows of goals without periods are untouched. Callers hold the row locks (taken in
-- goal order, like every batch write), so the rows read here are the ones the UPDATE changes: each
-- moved row gets a 'rotate' row in the audit ledger with its state before and after.
-- PL/pgSQL, not SQL: Citus cannot plan a SQL function's parameterised statement on a distributed table.
CREATE OR REPLACE FUNCTION challenge._rotate_rows(p_user_id text, p_goal_ids text[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    -- The transaction's time in a variable: Citus plans a parameter, not now() beside a CASE of SET.
    v_now timestamptz := now();
BEGIN
    WITH before AS (
        SELECT p.user_id, p.goal_id, p.progress, p.status
        FROM challenge.progress AS p
        WHERE p.user_id = p_user_id
            AND p.goal_id = ANY (p_goal_ids)
    ),
    moved AS (
        UPDATE challenge.progress AS p
        SET
            progress = CASE WHEN challenge._resets(p.period_start, p.status, g.period_resets, g.period_reselects, c.period_start) THEN 0 ELSE p.progress END,
            status = CASE
                WHEN challenge._resets(p.period_start, p.status, g.period_resets, g.period_reselects, c.period_start) THEN 'not_started'
                ELSE p.status
            END,
            completed_at = CASE
                WHEN challenge._resets(p.period_start, p.status, g.period_resets, g.period_reselects, c.period_start) THEN NULL
                ELSE p.completed_at
            END,
            claimed_at = CASE WHEN challenge._resets(p.period_start, p.status, g.period_resets, g.period_reselects, c.period_start) THEN NULL ELSE p.claimed_at END,
            last_counted_day = CASE
                WHEN challenge._resets(p.period_start, p.status, g.period_resets, g.period_reselects, c.period_start) THEN NULL
                ELSE p.last_counted_day
            END,
            last_value_at = CASE
                WHEN challenge._resets(p.period_start, p.status, g.period_resets, g.period_reselects, c.period_start) THEN NULL
                ELSE p.last_value_at
            END,
            baseline = CASE WHEN challenge._resets(p.period_start, p.status, g.period_resets, g.period_reselects, c.period_start) THEN NULL ELSE p.baseline END,
            period_start = c.period_start,
            expires_at = c.period_end,
            updated_at = v_now,
            version = p.version + 1
        FROM before AS b
        JOIN challenge.goals AS g ON g.goal_id = b.goal_id
        CROSS JOIN LATERAL (
            SELECT
                challenge._period_start(g.period_schedule, v_now) AS period_start,
                challenge._period_end(g.period_schedule, v_now) AS period_end
        ) AS c
        WHERE p.user_id = b.user_id
            AND p.goal_id = b.goal_id
            AND g.period_schedule IS NOT NULL
            AND coalesce(p.period_start, '-infinity') < c.period_start
        RETURNING
            p.user_id, p.goal_id, b.progress AS old_progress, b.status AS old_status, p.progress, p.status,
            p.period_start, p.version
    )
    INSERT INTO challenge.ledger (
        user_id, goal_id, operation, progress_before, progress_after, status_before, status_after, rotated,
        period_start, row_version
    )
    SELECT
        m.user_id, m.goal_id, 'rotate', m.old_progress, m.progress, m.old_status, m.status, true, m.period_start,
        m.version
    FROM moved AS m
    WHERE challenge._ledger_enabled()
    ORDER BY m.goal_id;
END;
$function$;
