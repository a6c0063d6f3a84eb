-- challenge._write_details(p_writes challenge._write[], p_outcomes text[], p_indexes integer[],
--     p_completed_users text[], p_completed_goals text[]) RETURNS jsonb
--
-- Private. What happened to each write, for callers that ask (p_detail): a JSON array in write order of
--   {"index": i, "event_id": ..., "goal_id": ..., "outcome": ..., "completed": true|false}
-- where index is the 0-based position of the item (p_indexes NULL: the write's own ord - 1) or of the
-- event the write was routed from (p_indexes[ord]), and completed says that this call completed the
-- write's row and the write was applied. Costs nothing when not asked: callers build it only then.
CREATE OR REPLACE FUNCTION challenge._write_details(
    p_writes challenge._write[],
    p_outcomes text[],
    p_indexes integer[],
    p_completed_users text[],
    p_completed_goals text[]
)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT coalesce(
        jsonb_agg(
            jsonb_build_object(
                'index', coalesce(p_indexes[w.ord], w.ord - 1),
                'event_id', w.event_id,
                'goal_id', w.goal_id,
                'outcome', p_outcomes[w.ord],
                'completed', p_outcomes[w.ord] = 'applied' AND c.user_id IS NOT NULL
            )
            ORDER BY w.ord
        ),
        '[]'::jsonb
    )
    FROM unnest(p_writes) AS w
    LEFT JOIN unnest(p_completed_users, p_completed_goals) AS c(user_id, goal_id)
        ON c.user_id = w.user_id
        AND c.goal_id = w.goal_id;
$function$;
