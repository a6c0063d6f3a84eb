-- challenge._write_result(p_outcomes text[], p_completed_users text[], p_completed_goals text[])
--     RETURNS jsonb
--
-- Private. The result document of the batch writes (docs/api.md, "Batch result") from the engine's
-- output (challenge._apply_writes): the applied count, every skip key (always present, so that applied +
-- sum(skipped) is the number of writes) and the completed rows sorted by (user_id, goal_id). Built once,
-- at the end of a call.
CREATE OR REPLACE FUNCTION challenge._write_result(
    p_outcomes text[],
    p_completed_users text[],
    p_completed_goals text[]
)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT jsonb_build_object(
        'applied', count(*) FILTER (WHERE o.outcome = 'applied'),
        'completed', (
            SELECT coalesce(
                jsonb_agg(jsonb_build_object('user_id', c.user_id, 'goal_id', c.goal_id) ORDER BY c.user_id, c.goal_id),
                '[]'::jsonb
            )
            FROM unnest(p_completed_users, p_completed_goals) AS c(user_id, goal_id)
        ),
        'skipped', jsonb_build_object(
            'inactive', count(*) FILTER (WHERE o.outcome = 'inactive'),
            'not_assigned', count(*) FILTER (WHERE o.outcome = 'not_assigned'),
            'claimed', count(*) FILTER (WHERE o.outcome = 'claimed'),
            'unknown_goal', count(*) FILTER (WHERE o.outcome = 'unknown_goal'),
            'duplicate_event', count(*) FILTER (WHERE o.outcome = 'duplicate_event'),
            'already_counted_today', count(*) FILTER (WHERE o.outcome = 'already_counted_today'),
            'stale_event', count(*) FILTER (WHERE o.outcome = 'stale_event'),
            'type_mismatch', count(*) FILTER (WHERE o.outcome = 'type_mismatch')
        )
    )
    FROM unnest(p_outcomes) AS o(outcome);
$function$;
