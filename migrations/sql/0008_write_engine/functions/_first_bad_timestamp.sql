-- challenge._first_bad_timestamp(p_items jsonb) RETURNS bigint
--
-- Private, for the batch validators (_check_write_items, _check_events): the 0-based index of the first
-- item whose occurred_at is present (not JSON null) but not a timestamp this package accepts
-- (_timestamp_pattern), or does not cast to timestamptz (2026-02-30 has the shape but is no date), or
-- NULL when every one is fine. Items that are not objects have no occurred_at here; the validators'
-- other checks name them.
--
-- Optimistic, because a regular expression per item costs more than the rest of a validation pass:
-- the strings are joined and matched at once (_stamps_match); the same pass casts them all. Only when
-- either fails are the items checked one by one, to name the first culprit.
CREATE OR REPLACE FUNCTION challenge._first_bad_timestamp(p_items jsonb)
RETURNS bigint
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_item jsonb;
    v_ord bigint;
    v_strings bigint;
    v_others bigint;
    v_joined text;
BEGIN
    BEGIN
        -- One pass: count, join and cast. A string the cast refuses (or misreads: the pattern decides)
        -- sends the whole batch to the search below.
        SELECT
            -- Counting the cast values casts every string.
            count((e.item ->> 'occurred_at')::timestamptz)
                FILTER (WHERE jsonb_typeof(e.item -> 'occurred_at') = 'string'),
            count(*) FILTER (WHERE jsonb_typeof(e.item -> 'occurred_at') NOT IN ('string', 'null')),
            string_agg(e.item ->> 'occurred_at', '|') FILTER (WHERE jsonb_typeof(e.item -> 'occurred_at') = 'string')
                || '|'
        INTO v_strings, v_others, v_joined
        FROM jsonb_array_elements(p_items) AS e(item)
        WHERE jsonb_typeof(e.item) = 'object';
    EXCEPTION
        WHEN data_exception THEN
            v_others := -1;  -- a cast failed: search
    END;

    -- The joined strings matched at once (shared with the write paths' parsers: _stamps_match).
    IF v_others = 0 AND challenge._stamps_match(v_joined, v_strings) THEN
        RETURN NULL;
    END IF;

    FOR v_item, v_ord IN
        SELECT e.item -> 'occurred_at', e.ord
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, ord)
        WHERE jsonb_typeof(e.item) = 'object'
            AND coalesce(e.item -> 'occurred_at', 'null'::jsonb) <> 'null'::jsonb
        ORDER BY e.ord
    LOOP
        IF NOT challenge._is_zoned_timestamp(v_item) THEN
            RETURN v_ord - 1;
        END IF;
        BEGIN
            PERFORM (v_item #>> '{}')::timestamptz;
        EXCEPTION
            WHEN datetime_field_overflow OR invalid_datetime_format THEN
                RETURN v_ord - 1;
        END;
    END LOOP;
    RETURN NULL;
END;
$function$;
