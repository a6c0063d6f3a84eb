-- challenge.get_progress(p_user_id text, p_goal_id text) RETURNS challenge.goal_progress
--
-- One player's row for one goal, or NULL when the goal is not assigned to the player (also for an
-- unknown goal: this is a read). Rows of retired goals stay readable.
CREATE OR REPLACE FUNCTION challenge.get_progress(p_user_id text, p_goal_id text)
RETURNS challenge.goal_progress
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT v.*
    FROM challenge.goal_progress AS v
    WHERE v.user_id = p_user_id
        AND v.goal_id = p_goal_id;
$function$;
