-- challenge.select_goals(p_user_id text, p_challenge_id text, p_goal_ids text[],
--                        p_replace_existing boolean DEFAULT false) RETURNS SETOF challenge.goal_progress
--
-- Activates exactly these goals of one challenge for a player (duplicates in the array are fine:
-- each goal is activated once). With p_replace_existing, first deactivates the challenge's other
-- active goals. All or nothing: every id is checked before anything is written. A row is created
-- when missing (not_started, progress 0); an existing row keeps its progress and status (selecting a
-- completed or claimed goal activates it as it is; prerequisites are not checked here, only by the
-- random pool and at claim time). Returns the selected goals' rows, ordered by goal.
-- Errors: unknown or retired challenge CH011; a goal that is unknown, retired or of another
-- challenge CH010 (the first such id, in sorted order); empty array, NULL element, or other bad
-- arguments CH003.
CREATE OR REPLACE FUNCTION challenge.select_goals(
    p_user_id text,
    p_challenge_id text,
    p_goal_ids text[],
    p_replace_existing boolean DEFAULT false
)
RETURNS SETOF challenge.goal_progress
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_bad_goal text;
    v_other_challenge text;
BEGIN
    PERFORM challenge._check_identifier('user_id', p_user_id);
    PERFORM challenge._check_identifier('challenge_id', p_challenge_id);
    IF p_goal_ids IS NULL OR cardinality(p_goal_ids) = 0 OR array_position(p_goal_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = 'invalid argument: goal_ids must be a non-empty array of goal ids without NULLs';
    END IF;
    IF p_replace_existing IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = 'invalid argument: replace_existing must be true or false, not NULL';
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

    SELECT u.goal_id, g.challenge_id
    INTO v_bad_goal, v_other_challenge
    FROM unnest(p_goal_ids) AS u(goal_id)
    LEFT JOIN challenge.goals AS g
        ON g.goal_id = u.goal_id
        AND g.retired_at IS NULL
    WHERE g.challenge_id IS DISTINCT FROM p_challenge_id
    ORDER BY u.goal_id
    LIMIT 1;
    IF v_bad_goal IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH010',
            MESSAGE = format('goal %s not found in challenge %s', v_bad_goal, p_challenge_id),
            DETAIL = CASE
                WHEN v_other_challenge IS NOT NULL
                    THEN format('Goal %s belongs to challenge %s.', v_bad_goal, v_other_challenge)
                ELSE format('Goal %s is not in the catalog (or was retired).', v_bad_goal)
            END,
            HINT = 'Nothing was selected; fix the list and send it again.';
    END IF;

    RETURN QUERY
    SELECT a.*
    FROM challenge._activate_goals(p_user_id, p_challenge_id, p_goal_ids, p_replace_existing) AS a;
END;
$function$;
