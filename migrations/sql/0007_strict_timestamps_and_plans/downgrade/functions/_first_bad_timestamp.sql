-- challenge._first_bad_timestamp(p_items jsonb) RETURNS bigint
--
-- Private, for the batch validators (_check_write_items, _check_events), after the shape checks of
-- _is_zoned_timestamp passed: the 0-based index of the first item whose occurred_at does not cast to
-- timestamptz (2026-02-30 looks right but is not), or NULL when every one does. One cast over the
-- whole payload; only when it fails are the items cast one by one, to name the culprit.
CREATE OR REPLACE FUNCTION challenge._first_bad_timestamp(p_items jsonb)
RETURNS bigint
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_item jsonb;
    v_ord bigint;
BEGIN
    IF NOT jsonb_path_exists(p_items, '$[*].occurred_at ? (@.type() == "string")') THEN
        RETURN NULL;
    END IF;
    BEGIN
        PERFORM max((e.item ->> 'occurred_at')::timestamptz)
        FROM jsonb_array_elements(p_items) AS e(item);
        RETURN NULL;
    EXCEPTION
        WHEN datetime_field_overflow OR invalid_datetime_format THEN
            NULL;  -- fall through to the slow search below
    END;

    FOR v_item, v_ord IN
        SELECT e.item, e.ord
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, ord)
        WHERE coalesce(e.item -> 'occurred_at', 'null'::jsonb) <> 'null'::jsonb
        ORDER BY e.ord
    LOOP
        BEGIN
            PERFORM (v_item ->> 'occurred_at')::timestamptz;
        EXCEPTION
            WHEN datetime_field_overflow OR invalid_datetime_format THEN
                RETURN v_ord - 1;
        END;
    END LOOP;
    RETURN NULL;
END;
$function$;
