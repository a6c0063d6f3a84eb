-- challenge._activate_goals(p_user_id text, p_challenge_id text, p_goal_ids text[], p_replace boolean)
--     RETURNS SETOF challenge.goal_progress
--
-- Private, shared by select_goals and random_select_goals, which have validated that every id is a
-- current goal of p_challenge_id (duplicates allowed). Locks the player's rows of the challenge in
-- goal order; with p_replace deactivates the challenge's active goals that are not in p_goal_ids;
-- then activates each goal once (creating missing rows as not_started with progress 0; a goal that
-- was inactive gets assigned_at = now(), one already active keeps it; progress and status are kept).
-- New rows take the namespace of the player's existing rows ('default' for a new player). Every
-- change adds an 'assign' or 'unassign' row to the audit ledger. Returns the rows of p_goal_ids,
-- ordered by goal.
CREATE OR REPLACE FUNCTION challenge._activate_goals(
    p_user_id text,
    p_challenge_id text,
    p_goal_ids text[],
    p_replace boolean
)
RETURNS SETOF challenge.goal_progress
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_namespace text;
BEGIN
    -- Goal order, the order every batch write locks one player's rows in: no deadlock with them.
    PERFORM
    FROM challenge.progress AS p
    JOIN challenge.goals AS g ON g.goal_id = p.goal_id
    WHERE p.user_id = p_user_id
        AND g.challenge_id = p_challenge_id
    ORDER BY p.goal_id
    FOR NO KEY UPDATE OF p;

    SELECT p.namespace
    INTO v_namespace
    FROM challenge.progress AS p
    WHERE p.user_id = p_user_id
    ORDER BY p.goal_id
    LIMIT 1;

    IF p_replace THEN
        WITH dropped AS (
            UPDATE challenge.progress AS p
            SET
                is_active = false,
                updated_at = now(),
                version = p.version + 1
            FROM challenge.goals AS g
            WHERE g.goal_id = p.goal_id
                AND p.user_id = p_user_id
                AND g.challenge_id = p_challenge_id
                AND p.is_active
                AND p.goal_id <> ALL (p_goal_ids)
            RETURNING p.goal_id, p.progress, p.status, p.period_start, p.version
        )
        INSERT INTO challenge.ledger (
            user_id, goal_id, operation, progress_before, progress_after, status_before, status_after,
            period_start, row_version
        )
        SELECT p_user_id, d.goal_id, 'unassign', d.progress, d.progress, d.status, d.status, d.period_start, d.version
        FROM dropped AS d
        WHERE challenge._ledger_enabled()
        ORDER BY d.goal_id;
    END IF;

    -- DISTINCT: a goal listed twice is activated once (the reference failed the whole selection with
    -- "cannot affect row a second time"). Missing rows first, with ON CONFLICT DO NOTHING, so a
    -- concurrent first activation of the same goal cannot fail on the primary key (the reference's did)...
    WITH created AS (
        INSERT INTO challenge.progress AS p (
            user_id, goal_id, namespace, progress, status, is_active, assigned_at, updated_at, period_start,
            expires_at
        )
        SELECT
            p_user_id, s.goal_id, coalesce(v_namespace, 'default'), 0, 'not_started', true, now(), now(),
            challenge._period_start(g.period_schedule, now()), challenge._period_end(g.period_schedule, now())
        FROM (SELECT DISTINCT u.goal_id FROM unnest(p_goal_ids) AS u(goal_id)) AS s
        JOIN challenge.goals AS g ON g.goal_id = s.goal_id
        ORDER BY s.goal_id
        ON CONFLICT (user_id, goal_id) DO NOTHING
        RETURNING p.goal_id, p.progress, p.status, p.period_start, p.version
    )
    INSERT INTO challenge.ledger (
        user_id, goal_id, operation, progress_after, status_after, period_start, row_version
    )
    SELECT p_user_id, c.goal_id, 'assign', c.progress, c.status, c.period_start, c.version
    FROM created AS c
    WHERE challenge._ledger_enabled()
    ORDER BY c.goal_id;

    -- ...then every listed row that exists and is inactive (including one a concurrent call just
    -- created) is locked in goal order and activated; one already active keeps its assigned_at.
    PERFORM
    FROM challenge.progress AS p
    WHERE p.user_id = p_user_id
        AND p.goal_id = ANY (p_goal_ids)
    ORDER BY p.goal_id
    FOR NO KEY UPDATE OF p;
    WITH activated AS (
        UPDATE challenge.progress AS p
        SET
            is_active = true,
            assigned_at = now(),
            updated_at = now(),
            version = p.version + 1
        WHERE p.user_id = p_user_id
            AND p.goal_id = ANY (p_goal_ids)
            AND NOT p.is_active
        RETURNING p.goal_id, p.progress, p.status, p.period_start, p.version
    )
    INSERT INTO challenge.ledger (
        user_id, goal_id, operation, progress_before, progress_after, status_before, status_after, period_start,
        row_version
    )
    SELECT p_user_id, a.goal_id, 'assign', a.progress, a.progress, a.status, a.status, a.period_start, a.version
    FROM activated AS a
    WHERE challenge._ledger_enabled()
    ORDER BY a.goal_id;
    -- A write: rows still in an earlier rotation period move to the current one (onExpiry).
    PERFORM challenge._rotate_rows(p_user_id, p_goal_ids);

    RETURN QUERY
    SELECT v.*
    FROM challenge.goal_progress AS v
    WHERE v.user_id = p_user_id
        AND v.goal_id = ANY (p_goal_ids)
    ORDER BY v.challenge_id, v.goal_id;
END;
$function$;
