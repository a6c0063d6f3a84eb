-- challenge._outcome(p_known boolean, p_duplicate boolean, p_assigned boolean, p_active boolean,
--     p_claimed boolean, p_type_mismatch boolean, p_stale boolean, p_counted_today boolean) RETURNS text
--
-- Private. The outcome order of every progress write (docs/api.md, "Outcomes"), written once: the first
-- rule that stops a write names it, and a write no rule stops is applied. The facts, per write:
--   p_known          the goal is in the catalog and not retired
--   p_duplicate      its event id was seen before (in an earlier call or earlier in this one)
--   p_assigned       the player has a row for the goal
--   p_active         the row is active
--   p_claimed        the row is claimed and stays claimed (the write does not open a new period that
--                    resets it)
--   p_type_mismatch  an absolute value for a goal that is not absolute, or a statistic event without a
--                    value for an absolute goal
--   p_stale          the write belongs to an earlier rotation period than the row's (or than another
--                    write of the call for the row), or an absolute value older than the newest applied
--   p_counted_today  a once-per-day goal (daily: true) already counted the write's UTC day
-- NULL facts count as false. Inlined into the calling statement (IMMUTABLE, no SET clause).
CREATE OR REPLACE FUNCTION challenge._outcome(
    p_known boolean,
    p_duplicate boolean,
    p_assigned boolean,
    p_active boolean,
    p_claimed boolean,
    p_type_mismatch boolean,
    p_stale boolean,
    p_counted_today boolean
)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT CASE
        WHEN NOT coalesce(p_known, false) THEN 'unknown_goal'
        WHEN p_duplicate THEN 'duplicate_event'
        WHEN NOT coalesce(p_assigned, false) THEN 'not_assigned'
        WHEN NOT coalesce(p_active, false) THEN 'inactive'
        WHEN p_claimed THEN 'claimed'
        WHEN p_type_mismatch THEN 'type_mismatch'
        WHEN p_stale THEN 'stale_event'
        WHEN p_counted_today THEN 'already_counted_today'
        ELSE 'applied'
    END;
$function$;
