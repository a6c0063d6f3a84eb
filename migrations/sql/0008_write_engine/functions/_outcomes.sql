-- challenge._outcomes() RETURNS text[]
--
-- Private: the one list of the outcomes a write can have, in the order of challenge._outcome (applied
-- last: it is what no rule stopped). The result documents carry one "skipped" key for each of the
-- others (challenge._write_result); the Python client's Outcome type is checked against this list by a
-- test, and so is _outcome. Inlined and folded into a constant (plain SQL, IMMUTABLE, no SET clause).
CREATE OR REPLACE FUNCTION challenge._outcomes()
RETURNS text[]
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT ARRAY[
        'unknown_goal', 'duplicate_event', 'not_assigned', 'inactive', 'claimed', 'type_mismatch',
        'stale_event', 'already_counted_today', 'applied'
    ]::text[];
$function$;
