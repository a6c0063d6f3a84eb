-- challenge._apply_routed(p_items jsonb, p_values boolean) RETURNS jsonb
--
-- Private, for record_events. Applies routed items (already sorted by user_id, goal_id, event order)
-- through _set_batch (p_values) or _increment_batch as prepared items, and returns the summed batch
-- result. NULL or an empty array is a no-op. More items than a batch function accepts (50,000: one
-- event can reach several goals) go in consecutive slices; since the items are sorted by key, the
-- slices lock their rows in the same global order as one call would.
CREATE OR REPLACE FUNCTION challenge._apply_routed(p_items jsonb, p_values boolean)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_slice_size CONSTANT integer := 50000;
    v_count integer := coalesce(jsonb_array_length(p_items), 0);
    v_slice jsonb;
    v_result jsonb := challenge._batch_result('{}', '[]');
BEGIN
    FOR v_start IN 0 .. v_count - 1 BY v_slice_size LOOP
        IF v_count <= v_slice_size THEN
            v_slice := p_items;
        ELSE
            v_slice := jsonb_path_query_array(
                p_items,
                '$[$from to $to]',
                jsonb_build_object('from', v_start, 'to', least(v_start + v_slice_size, v_count) - 1)
            );
        END IF;
        v_result := challenge._merge_batch_results(
            v_result,
            CASE
                WHEN p_values THEN challenge._set_batch(v_slice, true)
                ELSE challenge._increment_batch(v_slice, true)
            END
        );
    END LOOP;
    RETURN v_result;
END;
$function$;
