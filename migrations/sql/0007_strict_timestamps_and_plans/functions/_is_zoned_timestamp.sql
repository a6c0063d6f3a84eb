-- challenge._is_zoned_timestamp(p_value jsonb) RETURNS boolean
--
-- Private, for _first_bad_timestamp's item-by-item search. Whether an optional occurred_at is well
-- shaped: absent or JSON null, or a string holding a date-time with Z or a UTC offset, exactly as
-- _timestamp_pattern declares (a zone-less timestamp would depend on the session TimeZone). Inlined
-- into the caller's query (plain SQL, no SET clause, qualified names).
CREATE OR REPLACE FUNCTION challenge._is_zoned_timestamp(p_value jsonb)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT coalesce(p_value, 'null'::jsonb) = 'null'::jsonb
        OR (
            pg_catalog.jsonb_typeof(p_value) = 'string'
            AND (p_value #>> '{}') OPERATOR(pg_catalog.~) ('^' || challenge._timestamp_pattern() || '$')
        );
$function$;
