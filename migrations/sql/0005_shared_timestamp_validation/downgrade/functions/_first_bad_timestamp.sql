-- challenge._first_bad_timestamp(p_items jsonb) RETURNS bigint
--
-- Private, error path only: the 0-based index of the first item whose occurred_at does not cast to
-- timestamptz. _check_write_items calls it after a whole-payload cast failed, to name the item.
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
