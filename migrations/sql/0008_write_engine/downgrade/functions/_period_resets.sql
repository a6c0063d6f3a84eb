-- challenge._period_resets(p_row challenge.progress, p_goal challenge.goals, p_event_period timestamptz)
--     RETURNS boolean
--
-- Private. Whether a write in p_event_period resets the row under its goal's onExpiry rule: the event
-- opens a later period than the row's (a row with no period yet is in none), the goal resets progress,
-- and the row is not a claim that must stay claimed (claimed rows reset only when re-selection is
-- allowed). Never NULL. Inlined into the calling statement (no SET clause, qualified names), so in an
-- UPDATE it reads the row version PostgreSQL re-checks after waiting for another writer.
CREATE OR REPLACE FUNCTION challenge._period_resets(
    p_row challenge.progress,
    p_goal challenge.goals,
    p_event_period timestamptz
)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT coalesce(
        p_event_period > coalesce(p_row.period_start, '-infinity'::timestamptz)
            AND p_goal.period_resets
            AND (p_row.status <> 'claimed' OR p_goal.period_reselects),
        false
    );
$function$;
