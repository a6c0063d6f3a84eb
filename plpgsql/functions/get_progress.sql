-- challenge.get_progress(p_user_id text, p_goal_id text) RETURNS challenge.goal_progress
--
-- One player's row for one goal, or NULL when the goal is not assigned to the player (also for an
-- unknown goal: this is a read). Rows of retired goals stay readable.
-- PL/pgSQL, not SQL: Citus cannot plan a SQL function's parameterised query on a distributed table.
CREATE OR REPLACE FUNCTION challenge.get_progress(p_user_id text, p_goal_id text)
RETURNS challenge.goal_progress
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_row challenge.goal_progress;
BEGIN
    SELECT v.*
    INTO v_row
    FROM challenge.goal_progress AS v
    WHERE v.user_id = p_user_id
        AND v.goal_id = p_goal_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN v_row;
END;
$function$;
