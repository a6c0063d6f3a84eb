-- challenge._stamps_match(p_joined text, p_count bigint) RETURNS boolean
--
-- Private, for the optimistic validation of the write paths (_parse_write_items, _parse_events): whether
-- p_joined, the occurred_at strings of a payload each followed by '|', is exactly p_count timestamps this
-- package accepts (_timestamp_pattern). One regular expression over the whole payload: per string it
-- would cost more than the rest of the parse. The separator occurs in no accepted timestamp, and
-- counting it keeps one string from passing as two. NULL p_joined (no timestamps) matches. Inlined and
-- folded by the planner (plain SQL, IMMUTABLE, no SET clause).
CREATE OR REPLACE FUNCTION challenge._stamps_match(p_joined text, p_count bigint)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT p_joined IS NULL
        OR (
            p_joined OPERATOR(pg_catalog.~) ('^(?:' || challenge._timestamp_pattern() || '\|)*$')
            AND pg_catalog.length(p_joined) - pg_catalog.length(pg_catalog.replace(p_joined, '|', '')) = p_count
        );
$function$;
