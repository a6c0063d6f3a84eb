-- challenge._is_positive_integer(p_value jsonb) RETURNS boolean
--
-- Private. True when p_value is a JSON number holding an integer in 1..2,147,483,647 (not 1.5, not
-- "10", not 1e3).
CREATE OR REPLACE FUNCTION challenge._is_positive_integer(p_value jsonb)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    -- CASE, not AND: SQL does not promise to evaluate AND from left to right, and the cast must only
    -- see digits.
    SELECT CASE
        WHEN jsonb_typeof(p_value) IS DISTINCT FROM 'number' THEN false
        WHEN (p_value #>> '{}') !~ '^[0-9]{1,10}$' THEN false
        ELSE (p_value #>> '{}')::bigint BETWEEN 1 AND 2147483647
    END;
$function$;
