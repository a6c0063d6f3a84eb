-- challenge.set_goal_active(p_user_id text, p_goal_id text, p_active boolean,
--                           p_namespace text DEFAULT 'default') RETURNS challenge.goal_progress
--
-- Assigns (p_active = true) or unassigns a goal for a player, creating the row if missing (with the
-- given state; progress 0, not_started). Activating an inactive or new row sets assigned_at = now();
-- deactivating keeps progress, status and assigned_at; setting the state a row already has changes
-- nothing. The row is locked, or created with INSERT ... ON CONFLICT DO NOTHING (and locked and
-- updated when a concurrent call created it first), so concurrent first activations cannot collide.
-- Each real change adds an 'assign' or 'unassign' row to the audit ledger. Unknown or retired goal:
-- CH010. For goals with rotation periods the row is placed in the current period (a row still in an
-- earlier one gets the goal's onExpiry rule first) and expires_at is the end of that period.
CREATE OR REPLACE FUNCTION challenge.set_goal_active(
    p_user_id text,
    p_goal_id text,
    p_active boolean,
    p_namespace text DEFAULT 'default'
)
RETURNS challenge.goal_progress
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    -- The transaction's time, as now() gives it, in a variable: a call inside the CASE of an UPDATE's SET
    -- list would be refused by Citus (non-IMMUTABLE functions in CASE), a parameter is not.
    v_now timestamptz := now();
    v_row challenge.goal_progress;
    v_created boolean;
BEGIN
    PERFORM challenge._check_identifier('user_id', p_user_id);
    PERFORM challenge._check_identifier('goal_id', p_goal_id);
    PERFORM challenge._check_identifier('namespace', p_namespace);
    IF p_active IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = 'invalid argument: active must be true or false, not NULL';
    END IF;
    IF NOT EXISTS (
        SELECT FROM challenge.goals AS g WHERE g.goal_id = p_goal_id AND g.retired_at IS NULL
    ) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH010',
            MESSAGE = format('goal %s not found', p_goal_id),
            HINT = 'Goal ids come from the loaded config; retired goals cannot be assigned.';
    END IF;

    LOOP
        PERFORM
        FROM challenge.progress AS p
        WHERE p.user_id = p_user_id
            AND p.goal_id = p_goal_id
        FOR NO KEY UPDATE;
        IF FOUND THEN
            -- Only a real change writes (and is recorded): assigning an assigned goal is a no-op.
            WITH changed AS (
                UPDATE challenge.progress AS p
                SET
                    is_active = p_active,
                    assigned_at = CASE WHEN p_active THEN v_now ELSE p.assigned_at END,
                    updated_at = v_now,
                    version = p.version + 1
                WHERE p.user_id = p_user_id
                    AND p.goal_id = p_goal_id
                    AND p.is_active <> p_active
                RETURNING p.progress, p.status, p.period_start, p.version
            )
            INSERT INTO challenge.ledger (
                user_id, goal_id, operation, progress_before, progress_after, status_before, status_after,
                period_start, row_version
            )
            SELECT
                p_user_id, p_goal_id, CASE WHEN p_active THEN 'assign' ELSE 'unassign' END, c.progress, c.progress,
                c.status, c.status, c.period_start, c.version
            FROM changed AS c
            WHERE challenge._ledger_enabled();
            EXIT;
        END IF;

        WITH created AS (
            INSERT INTO challenge.progress AS p (
                user_id, goal_id, namespace, progress, status, is_active, assigned_at, updated_at, period_start,
                expires_at
            )
            SELECT
                p_user_id, p_goal_id, p_namespace, 0, 'not_started', p_active,
                CASE WHEN p_active THEN v_now END, v_now,
                challenge._period_start(g.period_schedule, v_now), challenge._period_end(g.period_schedule, v_now)
            FROM challenge.goals AS g
            WHERE g.goal_id = p_goal_id
            ON CONFLICT (user_id, goal_id) DO NOTHING
            RETURNING p.progress, p.status, p.period_start, p.version
        ),
        logged AS (
            INSERT INTO challenge.ledger (
                user_id, goal_id, operation, progress_after, status_after, period_start, row_version
            )
            SELECT p_user_id, p_goal_id, CASE WHEN p_active THEN 'assign' ELSE 'unassign' END, c.progress,
                c.status, c.period_start, c.version
            FROM created AS c
            WHERE challenge._ledger_enabled()
        )
        SELECT count(*) > 0
        INTO v_created
        FROM created;
        -- Not created: another transaction created the row since our read; lock and update it instead.
        EXIT WHEN v_created;
    END LOOP;
    -- A write: a row still in an earlier rotation period moves to the current one (onExpiry).
    PERFORM challenge._rotate_rows(p_user_id, ARRAY[p_goal_id]);

    SELECT v.*
    INTO STRICT v_row
    FROM challenge.goal_progress AS v
    WHERE v.user_id = p_user_id
        AND v.goal_id = p_goal_id;
    RETURN v_row;
END;
$function$;
