-- challenge._check_events(p_events jsonb, p_sourced boolean DEFAULT false) RETURNS integer
--
-- Private. Validates the payload of record_events and returns its event count; raises CH002
-- invalid_batch for the first malformed event, with DETAIL "item N: ..." (N is the 0-based index).
-- The precise check: record_events parses optimistically (_parse_events) and comes here to name the
-- culprit. An event is an object with exactly these keys:
--   event_id     required, string of 1..100 characters (optional with p_sourced: a call from an ordered
--                source, whose events are identified by position)
--   position     with p_sourced only, and then required: integer 0..9,223,372,036,854,775,807, greater
--                than the previous event's
--   user_id      required, string of 1..100 characters
--   kind         required, "login" or "statistic"
--   stat_code    required for statistic events (string of 1..100 characters); not allowed on logins
--   value        optional, integer 0..2,147,483,647 (statistic events only)
--   inc          optional, integer 1..1,000,000, default 1 (statistic events only)
--   occurred_at  optional, ISO 8601 timestamp with Z or a UTC offset (_timestamp_pattern), default now()
-- JSON null for an optional key means absent. A login event carries no stat_code, value or inc: it is
-- worth 1 to every login goal, and a stray key is more likely a caller bug than a request.
--
-- One set-based pass, the same cheap tests as _check_write_items; the timestamps are checked for the
-- whole payload at once, and only on failure item by item (_first_bad_timestamp) to name the culprit.
CREATE OR REPLACE FUNCTION challenge._check_events(p_events jsonb, p_sourced boolean DEFAULT false)
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
    v_allowed_keys text[] := ARRAY['event_id', 'user_id', 'kind', 'stat_code', 'value', 'inc', 'occurred_at']
        || CASE WHEN p_sourced THEN ARRAY['position'] ELSE '{}' END;
BEGIN
    IF p_events IS NULL OR jsonb_typeof(p_events) <> 'array' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH002',
            MESSAGE = 'invalid batch: events must be a JSON array',
            DETAIL = format('Got %s.', coalesce(jsonb_typeof(p_events), 'NULL'));
    END IF;

    v_count := jsonb_array_length(p_events);
    IF v_count > 50000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH002',
            MESSAGE = 'invalid batch: too many events',
            DETAIL = format('A batch holds at most 50000 events; got %s.', v_count),
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
                WHEN (NOT p_sourced OR coalesce(e.item -> 'event_id', 'null'::jsonb) <> 'null'::jsonb)
                    AND (
                        jsonb_typeof(e.item -> 'event_id') IS DISTINCT FROM 'string'
                        OR length(e.item ->> 'event_id') NOT BETWEEN 1 AND 100
                    )
                    THEN 'event_id must be a string of 1 to 100 characters'
                WHEN p_sourced
                    AND NOT CASE
                        WHEN jsonb_typeof(e.item -> 'position') IS NOT DISTINCT FROM 'number'
                            THEN (e.item -> 'position')::numeric BETWEEN 0 AND 9223372036854775807
                                AND (e.item -> 'position')::numeric = trunc((e.item -> 'position')::numeric)
                        ELSE false
                    END
                    THEN format(
                        'position must be an integer between 0 and 9223372036854775807, got %s',
                        coalesce((e.item -> 'position')::text, 'nothing')
                    )
                WHEN p_sourced
                    -- The window's argument sees every event: cast only numbers.
                    AND (e.item -> 'position')::numeric <= lag(
                        CASE WHEN jsonb_typeof(e.item -> 'position') = 'number' THEN (e.item -> 'position')::numeric END
                    ) OVER (ORDER BY e.ord)
                    THEN format(
                        'position must be greater than the previous event''s (%s), got %s',
                        lag(e.item -> 'position') OVER (ORDER BY e.ord), e.item -> 'position'
                    )
                WHEN jsonb_typeof(e.item -> 'user_id') IS DISTINCT FROM 'string'
                    OR length(e.item ->> 'user_id') NOT BETWEEN 1 AND 100
                    THEN 'user_id must be a string of 1 to 100 characters'
                WHEN (e.item - v_allowed_keys) <> '{}'::jsonb
                    THEN format(
                        'unknown key(s) %s; allowed keys are %s',
                        (SELECT string_agg(k.key, ', ' ORDER BY k.key) FROM jsonb_object_keys(e.item - v_allowed_keys) AS k(key)),
                        array_to_string(v_allowed_keys, ', ')
                    )
                WHEN (e.item -> 'kind') IS DISTINCT FROM '"login"'::jsonb
                    AND (e.item -> 'kind') IS DISTINCT FROM '"statistic"'::jsonb
                    THEN format(
                        'kind must be "login" or "statistic", got %s',
                        coalesce((e.item -> 'kind')::text, 'nothing')
                    )
                WHEN e.item -> 'kind' = '"login"'::jsonb
                    AND (
                        coalesce(e.item -> 'stat_code', 'null'::jsonb) <> 'null'::jsonb
                        OR coalesce(e.item -> 'value', 'null'::jsonb) <> 'null'::jsonb
                        OR coalesce(e.item -> 'inc', 'null'::jsonb) <> 'null'::jsonb
                    )
                    THEN 'a login event carries no stat_code, value or inc'
                WHEN e.item -> 'kind' = '"statistic"'::jsonb
                    AND (
                        jsonb_typeof(e.item -> 'stat_code') IS DISTINCT FROM 'string'
                        OR length(e.item ->> 'stat_code') NOT BETWEEN 1 AND 100
                    )
                    THEN 'stat_code must be a string of 1 to 100 characters for a statistic event'
                WHEN coalesce(e.item -> 'value', 'null'::jsonb) <> 'null'::jsonb
                    AND NOT CASE
                        -- CASE guarantees the cast only sees numbers.
                        WHEN jsonb_typeof(e.item -> 'value') = 'number'
                            THEN (e.item -> 'value')::numeric BETWEEN 0 AND 2147483647
                                AND (e.item -> 'value')::numeric = trunc((e.item -> 'value')::numeric)
                        ELSE false
                    END
                    THEN format('value must be an integer between 0 and 2147483647, got %s', e.item -> 'value')
                WHEN coalesce(e.item -> 'inc', 'null'::jsonb) <> 'null'::jsonb
                    AND NOT CASE
                        WHEN jsonb_typeof(e.item -> 'inc') = 'number'
                            THEN (e.item -> 'inc')::numeric BETWEEN 1 AND 1000000
                                AND (e.item -> 'inc')::numeric = trunc((e.item -> 'inc')::numeric)
                        ELSE false
                    END
                    THEN format('inc must be an integer between 1 and 1000000, got %s', e.item -> 'inc')
            END AS problem
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(item, ord)
    ) AS checked
    WHERE checked.problem IS NOT NULL
    ORDER BY checked.ord
    LIMIT 1;

    -- Timestamps are checked for the whole batch at once (see there); the first bad item of either kind
    -- is named, the other problems first within one item.
    v_bad_timestamp := challenge._first_bad_timestamp(p_events);
    IF v_bad_timestamp < coalesce(v_index, v_bad_timestamp + 1) THEN
        v_index := v_bad_timestamp;
        v_problem := challenge._timestamp_problem(p_events -> v_index::integer -> 'occurred_at');
    END IF;

    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH002',
            MESSAGE = format('invalid batch: item %s: %s', v_index, v_problem),
            DETAIL = format('item %s: %s', v_index, v_problem),
            HINT = 'Nothing was applied; fix the event and send the whole batch again.';
    END IF;

    RETURN v_count;
END;
$function$;
