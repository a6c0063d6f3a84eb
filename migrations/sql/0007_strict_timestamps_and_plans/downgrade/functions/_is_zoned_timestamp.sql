-- challenge._is_zoned_timestamp(p_value jsonb) RETURNS boolean
--
-- Private, for the batch validators (_check_write_items, _check_events). Whether an optional
-- occurred_at is well shaped: absent or JSON null, or a string holding a date and a time
-- ("2026-11-27T10:00...") that ends in Z or a UTC offset (+05, +0530, +05:30). A zone-less timestamp
-- would depend on the session TimeZone. Plain string tests (a regular expression here costs more than
-- the rest of a validation pass); the cast in _first_bad_timestamp checks the rest. Inlined into the
-- caller's query (no SET clause, qualified names).
CREATE OR REPLACE FUNCTION challenge._is_zoned_timestamp(p_value jsonb)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT coalesce(p_value, 'null'::jsonb) = 'null'::jsonb
        OR (
            pg_catalog.jsonb_typeof(p_value) = 'string'
            AND pg_catalog.substr(p_value #>> '{}', 11, 1) IN ('T', 't', ' ')
            AND (
                pg_catalog.right(p_value #>> '{}', 1) IN ('Z', 'z')
                OR pg_catalog.substr(p_value #>> '{}', pg_catalog.length(p_value #>> '{}') - 2, 1) IN ('+', '-')
                OR pg_catalog.substr(p_value #>> '{}', pg_catalog.length(p_value #>> '{}') - 4, 1) IN ('+', '-')
                OR pg_catalog.substr(p_value #>> '{}', pg_catalog.length(p_value #>> '{}') - 5, 1) IN ('+', '-')
            )
        );
$function$;
