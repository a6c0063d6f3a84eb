-- challenge._write_result(p_counts jsonb, p_completed_users text[], p_completed_goals text[])
--     RETURNS jsonb
--
-- Private. The result document of the batch writes (docs/api.md, "Batch result") from the engine's
-- output (challenge._apply_writes): the applied count, every skip key of challenge._outcomes (always
-- present, so that applied + sum(skipped) is the number of writes) and the completed rows sorted by
-- (user_id, goal_id). Built once, at the end of a call.
CREATE OR REPLACE FUNCTION challenge._write_result(
    p_counts jsonb,
    p_completed_users text[],
    p_completed_goals text[]
)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT jsonb_build_object(
        'applied', coalesce((p_counts ->> 'applied')::bigint, 0),
        'completed', (
            SELECT coalesce(
                jsonb_agg(jsonb_build_object('user_id', c.user_id, 'goal_id', c.goal_id) ORDER BY c.user_id, c.goal_id),
                '[]'::jsonb
            )
            FROM unnest(p_completed_users, p_completed_goals) AS c(user_id, goal_id)
        ),
        'skipped', (
            SELECT jsonb_object_agg(o.outcome, coalesce((p_counts ->> o.outcome)::bigint, 0))
            FROM unnest(challenge._outcomes()) AS o(outcome)
            WHERE o.outcome <> 'applied'
        )
    );
$function$;
