-- challenge._check_write_items(p_items jsonb, p_value_key text) RETURNS integer
--
-- Private. Validates the payload of a batch write and returns its item count; raises CH002 invalid_batch
-- for the first malformed item, with DETAIL "item N: ..." (N is the 0-based index). p_value_key is
-- 'delta' (increment_progress_batch: optional integer 1..1,000,000) or 'value' (set_progress_batch:
-- required integer 0..2,147,483,647).
--
-- One set-based pass over the items; the per-item checks are cheap jsonb operators and regular
-- expressions. Only the timestamp cast can still fail on a well-formed-looking value (2026-02-30):
-- that is caught once for the whole payload, and only then are items cast one by one to name the
-- culprit.
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
    v_allowed_keys text[] := ARRAY['user_id', 'goal_id', p_value_key, 'event_id', 'occurred_at'];
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
                        -- CASE guarantees the cast only sees digits.
                        WHEN jsonb_typeof(e.item -> 'delta') = 'number'
                            AND (e.item ->> 'delta') ~ '^[0-9]{1,7}$'
                            THEN (e.item ->> 'delta')::integer BETWEEN 1 AND 1000000
                        ELSE false
                    END
                    THEN format('delta must be an integer between 1 and 1000000, got %s', e.item -> 'delta')
                WHEN p_value_key = 'value'
                    AND NOT CASE
                        WHEN jsonb_typeof(e.item -> 'value') IS NOT DISTINCT FROM 'number'
                            AND (e.item ->> 'value') ~ '^[0-9]{1,10}$'
                            THEN (e.item ->> 'value')::bigint <= 2147483647
                        ELSE false
                    END
                    THEN format(
                        'value must be an integer between 0 and 2147483647, got %s',
                        coalesce((e.item -> 'value')::text, 'nothing')
                    )
                WHEN coalesce(e.item -> 'event_id', 'null'::jsonb) <> 'null'::jsonb
                    AND (
                        jsonb_typeof(e.item -> 'event_id') <> 'string'
                        OR length(e.item ->> 'event_id') NOT BETWEEN 1 AND 100
                    )
                    THEN 'event_id must be a string of 1 to 100 characters'
                WHEN coalesce(e.item -> 'occurred_at', 'null'::jsonb) <> 'null'::jsonb
                    AND (
                        jsonb_typeof(e.item -> 'occurred_at') <> 'string'
                        OR (e.item ->> 'occurred_at') !~
                            '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}(:?\d{2})?)$'
                    )
                    THEN format(
                        'occurred_at must be an ISO 8601 timestamp with a UTC offset or Z, got %s',
                        e.item -> 'occurred_at'
                    )
            END AS problem
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, ord)
    ) AS checked
    WHERE checked.problem IS NOT NULL
    ORDER BY checked.ord
    LIMIT 1;

    IF v_problem IS NULL THEN
        BEGIN
            PERFORM max((e.item ->> 'occurred_at')::timestamptz)
            FROM jsonb_array_elements(p_items) AS e(item);
        EXCEPTION
            WHEN datetime_field_overflow OR invalid_datetime_format THEN
                v_index := challenge._first_bad_timestamp(p_items);
                v_problem := format(
                    'occurred_at is not a valid timestamp, got %s',
                    p_items -> v_index::integer -> 'occurred_at'
                );
        END;
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
