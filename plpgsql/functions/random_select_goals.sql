-- challenge.random_select_goals(p_user_id text, p_challenge_id text, p_count integer,
--     p_replace_existing boolean DEFAULT false, p_exclude_active boolean DEFAULT true,
--     p_seed text DEFAULT NULL) RETURNS SETOF challenge.goal_progress
--
-- Picks up to p_count goals of one challenge from the player's pool and activates them as
-- select_goals does (with p_replace_existing, the challenge's other active goals are deactivated).
-- The pool: the challenge's current goals that the player has not completed or claimed, whose
-- prerequisites all have a completed or claimed row of the player (in any challenge), and, with
-- p_exclude_active, that are not already active. The same p_seed over the same pool gives the same
-- pick (goals ordered by md5(seed || ':' || goal_id)); without a seed the pick is random(). A pool
-- smaller than p_count gives all of it; an empty pool raises CH025 insufficient_goals with the
-- available and requested counts in DETAIL. Unknown or retired challenge CH011; p_count < 1 or other
-- bad arguments CH003. Returns the picked goals' rows, ordered by goal.
CREATE OR REPLACE FUNCTION challenge.random_select_goals(
    p_user_id text,
    p_challenge_id text,
    p_count integer,
    p_replace_existing boolean DEFAULT false,
    p_exclude_active boolean DEFAULT true,
    p_seed text DEFAULT NULL
)
RETURNS SETOF challenge.goal_progress
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_done text[];
    v_picked text[];
BEGIN
    PERFORM challenge._check_identifier('user_id', p_user_id);
    PERFORM challenge._check_identifier('challenge_id', p_challenge_id);
    IF p_count IS NULL OR p_count < 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: count must be a positive integer, got %s',
                             coalesce(p_count::text, 'NULL'));
    END IF;
    IF p_replace_existing IS NULL OR p_exclude_active IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = 'invalid argument: replace_existing and exclude_active must be true or false, not NULL';
    END IF;
    IF NOT EXISTS (
        SELECT
        FROM challenge.challenges AS c
        WHERE c.challenge_id = p_challenge_id
            AND c.retired_at IS NULL
    ) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH011',
            MESSAGE = format('challenge %s not found', p_challenge_id),
            HINT = 'Challenge ids come from the loaded config (challenge.load_config).';
    END IF;

    -- Lock the player's rows of the challenge (goal order) before reading the pool, so that two
    -- selections for one player run one after the other and the second sees the first's result.
    PERFORM
    FROM challenge.progress AS p
    JOIN challenge.goals AS g ON g.goal_id = p.goal_id
    WHERE p.user_id = p_user_id
        AND g.challenge_id = p_challenge_id
    ORDER BY p.goal_id
    FOR NO KEY UPDATE OF p;

    -- Prerequisites count over all the player's rows, any challenge (the reference looked only at the
    -- same challenge, so a cross-challenge prerequisite was never met).
    SELECT coalesce(array_agg(p.goal_id), '{}')
    INTO v_done
    FROM challenge.progress AS p
    WHERE p.user_id = p_user_id
        AND p.status IN ('completed', 'claimed');

    SELECT array_agg(k.goal_id ORDER BY k.sort_key, k.goal_id)
    INTO v_picked
    FROM (
        SELECT
            g.goal_id,
            CASE
                WHEN p_seed IS NOT NULL THEN md5(p_seed || ':' || g.goal_id)
                ELSE md5(random()::text)
            END AS sort_key
        FROM challenge.goals AS g
        LEFT JOIN challenge.progress AS p
            ON p.user_id = p_user_id
            AND p.goal_id = g.goal_id
        WHERE g.challenge_id = p_challenge_id
            AND g.retired_at IS NULL
            AND g.goal_id <> ALL (v_done)
            AND g.prerequisites <@ v_done
            AND NOT (p_exclude_active AND coalesce(p.is_active, false))
    ) AS k;

    IF v_picked IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH025',
            MESSAGE = format('not enough goals to select in challenge %s', p_challenge_id),
            DETAIL = format('Available %s, requested %s.', 0, p_count),
            HINT = 'The pool leaves out completed and claimed goals, goals with unmet prerequisites and'
                || ' (with exclude_active) active goals.';
    END IF;

    RETURN QUERY
    SELECT a.*
    FROM challenge._activate_goals(p_user_id, p_challenge_id, v_picked[1:p_count], p_replace_existing) AS a;
END;
$function$;
