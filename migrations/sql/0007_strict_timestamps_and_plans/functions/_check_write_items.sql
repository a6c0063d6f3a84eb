-- challenge._check_write_items(p_items jsonb, p_value_key text) RETURNS integer
--
-- Private. Validates the payload of a batch write and returns its item count; raises CH002 invalid_batch
-- for the first malformed item, with DETAIL "item N: ..." (N is the 0-based index). p_value_key is
-- 'delta' (increment_progress_batch: optional integer 1..1,000,000) or 'value' (set_progress_batch:
-- required integer 0..2,147,483,647, and an optional "inc" 0..1,000,000 for relative goals).
--
-- One set-based pass over the items with cheap jsonb operators; the timestamps (occurred_at, the forms
-- of _timestamp_pattern) are checked for the whole batch at once by _first_bad_timestamp, shared with
-- _check_events.
CREATE OR REPLACE FUNCTION challenge._check_write_items(p_items jsonb, p_value_key text)
RETURNS integer
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_count integer;
    v_index bigint;
    v_problem text;
    v_bad_timestamp bigint;
    v_allowed_keys text[] := CASE p_value_key
        WHEN 'value' THEN ARRAY['user_id', 'goal_id', 'value', 'inc', 'event_id', 'occurred_at']
        ELSE ARRAY['user_id', 'goal_id', 'delta', 'event_id', 'occurred_at']
    END;
BEGIN
    IF p_items IS NULL OR jsonb_typeof(p_items) <> 'array' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH002',
            MESSAGE = 'invalid batch: items must be a JSON array',
            DETAIL = format('Got %s.', coalesce(jsonb_typeof(p_items), 'NULL'));
    END IF;

    v_count := jsonb_array_length(p_items);
    IF v_count > 50000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH002',
            MESSAGE = 'invalid batch: too many items',
            DETAIL = format('A batch holds at most 50000 items; got %s.', v_count),
            HINT = 'Split the payload into several calls.';
    END IF;

    SELECT checked.ord - 1, checked.problem
    INTO v_index, v_problem
    FROM (
        SELECT
            e.ord,
            CASE
                WHEN jsonb_typeof(e.item) <> 'object'
                    THEN format('is a JSON %s, not an object', jsonb_typeof(e.item))
                WHEN jsonb_typeof(e.item -> 'user_id') IS DISTINCT FROM 'string'
                    OR length(e.item ->> 'user_id') NOT BETWEEN 1 AND 100
                    THEN 'user_id must be a string of 1 to 100 characters'
                WHEN jsonb_typeof(e.item -> 'goal_id') IS DISTINCT FROM 'string'
                    OR length(e.item ->> 'goal_id') NOT BETWEEN 1 AND 100
                    THEN 'goal_id must be a string of 1 to 100 characters'
                WHEN (e.item - v_allowed_keys) <> '{}'::jsonb
                    THEN format(
                        'unknown key(s) %s; allowed keys are %s',
                        (SELECT string_agg(k.key, ', ' ORDER BY k.key) FROM jsonb_object_keys(e.item - v_allowed_keys) AS k(key)),
                        array_to_string(v_allowed_keys, ', ')
                    )
                WHEN p_value_key = 'delta'
                    AND coalesce(e.item -> 'delta', 'null'::jsonb) <> 'null'::jsonb
                    AND NOT CASE
                        -- CASE guarantees the cast only sees numbers.
                        WHEN jsonb_typeof(e.item -> 'delta') = 'number'
                            THEN (e.item -> 'delta')::numeric BETWEEN 1 AND 1000000
                                AND (e.item -> 'delta')::numeric = trunc((e.item -> 'delta')::numeric)
                        ELSE false
                    END
                    THEN format('delta must be an integer between 1 and 1000000, got %s', e.item -> 'delta')
                WHEN p_value_key = 'value'
                    AND NOT CASE
                        WHEN jsonb_typeof(e.item -> 'value') IS NOT DISTINCT FROM 'number'
                            THEN (e.item -> 'value')::numeric BETWEEN 0 AND 2147483647
                                AND (e.item -> 'value')::numeric = trunc((e.item -> 'value')::numeric)
                        ELSE false
                    END
                    THEN format(
                        'value must be an integer between 0 and 2147483647, got %s',
                        coalesce((e.item -> 'value')::text, 'nothing')
                    )
                WHEN p_value_key = 'value'
                    AND coalesce(e.item -> 'inc', 'null'::jsonb) <> 'null'::jsonb
                    AND NOT CASE
                        WHEN jsonb_typeof(e.item -> 'inc') = 'number'
                            THEN (e.item -> 'inc')::numeric BETWEEN 0 AND 1000000
                                AND (e.item -> 'inc')::numeric = trunc((e.item -> 'inc')::numeric)
                        ELSE false
                    END
                    THEN format('inc must be an integer between 0 and 1000000, got %s', e.item -> 'inc')
                WHEN coalesce(e.item -> 'event_id', 'null'::jsonb) <> 'null'::jsonb
                    AND (
                        jsonb_typeof(e.item -> 'event_id') <> 'string'
                        OR length(e.item ->> 'event_id') NOT BETWEEN 1 AND 100
                    )
                    THEN 'event_id must be a string of 1 to 100 characters'
            END AS problem
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, ord)
    ) AS checked
    WHERE checked.problem IS NOT NULL
    ORDER BY checked.ord
    LIMIT 1;

    -- Timestamps are checked for the whole batch at once (see there); the first bad item of either kind
    -- is named, the other problems first within one item.
    v_bad_timestamp := challenge._first_bad_timestamp(p_items);
    IF v_bad_timestamp < coalesce(v_index, v_bad_timestamp + 1) THEN
        v_index := v_bad_timestamp;
        v_problem := challenge._timestamp_problem(p_items -> v_index::integer -> 'occurred_at');
    END IF;

    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH002',
            MESSAGE = format('invalid batch: item %s: %s', v_index, v_problem),
            DETAIL = format('item %s: %s', v_index, v_problem),
            HINT = 'Nothing was applied; fix the item and send the whole batch again.';
    END IF;

    RETURN v_count;
END;
$function$;
