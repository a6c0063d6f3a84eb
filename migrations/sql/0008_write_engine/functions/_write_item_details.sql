-- challenge._write_item_details(p_writes challenge._write[], p_outcomes text[], p_indexes integer[],
--     p_completed_users text[], p_completed_goals text[])
--     RETURNS TABLE (item_index integer, nth integer, item jsonb)
--
-- Private. What happened to each write, for callers that ask (p_detail): one row per write, with
--   item = {"index": i, "event_id": ..., "goal_id": ..., "outcome": ..., "completed": true|false}
-- where index (also item_index) is the 0-based position of the item (p_indexes NULL: the write's own
-- ord - 1) or of the event the write was routed from (p_indexes[ord]), nth the write's ord, and
-- completed says that this call completed the write's row and the write was applied. Rows, not an
-- array: record_events adds its duplicate events before it aggregates. Costs nothing when not asked:
-- callers call it only then.
CREATE OR REPLACE FUNCTION challenge._write_item_details(
    p_writes challenge._write[],
    p_outcomes text[],
    p_indexes integer[],
    p_completed_users text[],
    p_completed_goals text[]
)
RETURNS TABLE (item_index integer, nth integer, item jsonb)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT
        coalesce(p_indexes[w.ord], w.ord - 1),
        w.ord,
        jsonb_build_object(
            'index', coalesce(p_indexes[w.ord], w.ord - 1),
            'event_id', w.event_id,
            'goal_id', w.goal_id,
            'outcome', p_outcomes[w.ord],
            'completed', p_outcomes[w.ord] = 'applied' AND c.user_id IS NOT NULL
        )
    FROM unnest(p_writes) AS w
    LEFT JOIN unnest(p_completed_users, p_completed_goals) AS c(user_id, goal_id)
        ON c.user_id = w.user_id
        AND c.goal_id = w.goal_id;
$function$;
