-- challenge.get_user_progress(p_user_id text, p_active_only boolean DEFAULT false,
--                             p_challenge_id text DEFAULT NULL) RETURNS SETOF challenge.goal_progress
--
-- All of a player's rows, ordered by challenge then goal. p_active_only keeps only assigned (active)
-- goals; p_challenge_id keeps one challenge and raises CH011 challenge_not_found when the catalog has
-- no such challenge.
CREATE OR REPLACE FUNCTION challenge.get_user_progress(
    p_user_id text,
    p_active_only boolean DEFAULT false,
    p_challenge_id text DEFAULT NULL
)
RETURNS SETOF challenge.goal_progress
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF p_challenge_id IS NOT NULL
        AND NOT EXISTS (SELECT FROM challenge.challenges AS c WHERE c.challenge_id = p_challenge_id)
    THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH011',
            MESSAGE = format('challenge %s not found', p_challenge_id),
            HINT = 'Challenge ids come from the loaded config (challenge.load_config).';
    END IF;

    RETURN QUERY
    SELECT v.*
    FROM challenge.goal_progress AS v
    WHERE v.user_id = p_user_id
        AND (NOT coalesce(p_active_only, false) OR v.is_active)
        AND (p_challenge_id IS NULL OR v.challenge_id = p_challenge_id)
    ORDER BY v.challenge_id, v.goal_id;
END;
$function$;
