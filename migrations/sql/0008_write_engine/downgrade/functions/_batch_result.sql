-- challenge._batch_result(p_outcomes text[], p_completed jsonb) RETURNS jsonb
--
-- Private. Builds the batch result document of api.md section 3 from one outcome per item, so that
-- every skip key is always present and applied + sum(skipped) equals the number of items.
CREATE OR REPLACE FUNCTION challenge._batch_result(p_outcomes text[], p_completed jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT jsonb_build_object(
        'applied', count(*) FILTER (WHERE o.outcome = 'applied'),
        'completed', coalesce(p_completed, '[]'::jsonb),
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
