-- challenge.initialize_player(p_user_id text, p_namespace text DEFAULT 'default')
--     RETURNS SETOF challenge.goal_progress
--
-- Assigns (active, not_started, progress 0) every defaultAssigned goal of the catalog that the player
-- has no row for, and returns all the player's active goals of the current catalog, ordered by
-- challenge then goal. Idempotent and safe when called concurrently for one player (ON CONFLICT DO
-- NOTHING). A default goal added to the config later is assigned on the next call; a goal the player
-- deactivated keeps its row and is not re-activated. New rows of goals with rotation periods start in
-- the current period (expires_at = its end); existing rows are returned as of now (see the view).
-- Each row created adds an 'assign' row to the audit ledger.
CREATE OR REPLACE FUNCTION challenge.initialize_player(p_user_id text, p_namespace text DEFAULT 'default')
RETURNS SETOF challenge.goal_progress
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM challenge._check_identifier('user_id', p_user_id);
    PERFORM challenge._check_identifier('namespace', p_namespace);

    WITH created AS (
        INSERT INTO challenge.progress AS p (
            user_id, goal_id, namespace, progress, status, is_active, assigned_at, updated_at, period_start,
            expires_at
        )
        SELECT
            p_user_id, g.goal_id, p_namespace, 0, 'not_started', true, now(), now(),
            challenge._period_start(g.period_schedule, now()), challenge._period_end(g.period_schedule, now())
        FROM challenge.goals AS g
        WHERE g.default_assigned
            AND g.retired_at IS NULL
        ORDER BY g.goal_id
        ON CONFLICT (user_id, goal_id) DO NOTHING
        RETURNING p.goal_id, p.progress, p.status, p.period_start
    )
    INSERT INTO challenge.ledger (user_id, goal_id, operation, progress_after, status_after, period_start)
    SELECT p_user_id, c.goal_id, 'assign', c.progress, c.status, c.period_start
    FROM created AS c
    WHERE challenge._ledger_enabled()
    ORDER BY c.goal_id;

    RETURN QUERY
    SELECT v.*
    FROM challenge.goal_progress AS v
    JOIN challenge.goals AS g ON g.goal_id = v.goal_id
    WHERE v.user_id = p_user_id
        AND v.is_active
        AND g.retired_at IS NULL
    ORDER BY v.challenge_id, v.goal_id;
END;
$function$;
