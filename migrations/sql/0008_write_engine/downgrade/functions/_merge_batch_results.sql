-- challenge._merge_batch_results(p_first jsonb, p_second jsonb) RETURNS jsonb
--
-- Private. Adds two batch result documents (used when a batch re-runs the few items whose row changed
-- state under it, see increment_progress_batch).
CREATE OR REPLACE FUNCTION challenge._merge_batch_results(p_first jsonb, p_second jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT jsonb_build_object(
        'applied', (p_first ->> 'applied')::bigint + (p_second ->> 'applied')::bigint,
        'completed', (p_first -> 'completed') || (p_second -> 'completed'),
        'skipped', (
            SELECT jsonb_object_agg(s.key, s.value::bigint + coalesce((p_second -> 'skipped' ->> s.key)::bigint, 0))
            FROM jsonb_each_text(p_first -> 'skipped') AS s(key, value)
        )
    );
$function$;
