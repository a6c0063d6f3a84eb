-- challenge._resets(p_period_start timestamptz, p_status text, p_goal_resets boolean,
--     p_goal_reselects boolean, p_write_period timestamptz) RETURNS boolean
--
-- Private. Whether a write in p_write_period resets a row (its period_start and status given) under its
-- goal's onExpiry rule: the write opens a later period than the row's (a row with no period yet is in
-- none), the goal resets progress (goals.period_resets), and the row is not a claim that must stay
-- claimed (claimed rows reset only when the goal may be selected again: goals.period_reselects).
-- Never NULL. Scalar arguments, not row types, so a sharded planner (Citus) can push it down; inlined
-- into the calling statement (IMMUTABLE, no SET clause), so in an UPDATE it reads the row version
-- PostgreSQL re-checks after waiting for another writer.
CREATE OR REPLACE FUNCTION challenge._resets(
    p_period_start timestamptz,
    p_status text,
    p_goal_resets boolean,
    p_goal_reselects boolean,
    p_write_period timestamptz
)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT coalesce(
        p_write_period > coalesce(p_period_start, '-infinity'::timestamptz)
            AND p_goal_resets
            AND (p_status <> 'claimed' OR p_goal_reselects),
        false
    );
$function$;
