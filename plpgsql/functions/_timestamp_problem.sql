-- challenge._timestamp_problem(p_value jsonb) RETURNS text
--
-- Private, for the batch validators: what is wrong with an occurred_at that _first_bad_timestamp
-- refused, in the words of a CH002 DETAIL. The Python writer's pre-check uses the same words.
CREATE OR REPLACE FUNCTION challenge._timestamp_problem(p_value jsonb)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT CASE
        WHEN challenge._is_zoned_timestamp(p_value)
            THEN pg_catalog.format('occurred_at is not a valid timestamp, got %s', p_value)
        ELSE pg_catalog.format(
            'occurred_at must be an ISO 8601 timestamp with a UTC offset or Z'
                || ' (YYYY-MM-DDThh:mm[:ss[.fraction]] then Z or +hh:mm up to 14:00, years 1900 to 9998), got %s',
            p_value
        )
    END;
$function$;
