-- challenge._first_repeat(p_values text[]) RETURNS bigint
--
-- Private, for load_config's duplicate-id checks: the 1-based position of the first element that repeats
-- an earlier one, or NULL. One sort, linear in the array (no comparison of every pair).
CREATE OR REPLACE FUNCTION challenge._first_repeat(p_values text[])
RETURNS bigint
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT d.n
    FROM (
        SELECT u.n, pg_catalog.row_number() OVER (PARTITION BY u.value ORDER BY u.n) AS seen
        FROM pg_catalog.unnest(p_values) WITH ORDINALITY AS u(value, n)
    ) AS d
    WHERE d.seen > 1
    ORDER BY d.n
    LIMIT 1;
$function$;
