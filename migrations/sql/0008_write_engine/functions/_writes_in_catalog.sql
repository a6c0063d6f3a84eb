-- challenge._writes_in_catalog(p_writes challenge._write[]) RETURNS TABLE (...)
--
-- Private, for the write engine (challenge._apply_writes): each write with the catalog facts of its goal
-- (is_known: the goal exists and is not retired; the other facts NULL otherwise). is_daily is the
-- once-per-day rule (`daily: true`: one counted increment per UTC day), not `type: daily` (a goal whose
-- daily period resets, which shows in period_schedule and period_resets).
--
-- A function of its own for its join: a hash of the catalog probed once per write. The engine turns hash
-- joins off (its update must walk the rows in key order), and a nested loop over the catalog per write
-- cost more than the rest of its first step.
CREATE OR REPLACE FUNCTION challenge._writes_in_catalog(p_writes challenge._write[])
RETURNS TABLE (
    ord integer,
    user_id text,
    goal_id text,
    is_set boolean,
    amount integer,
    inc integer,
    event_id text,
    occurred_at timestamptz,
    is_known boolean,
    target integer,
    is_absolute boolean,
    is_relative boolean,
    is_daily boolean,
    period_schedule text,
    period_resets boolean,
    period_reselects boolean
)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
SET enable_hashjoin = on
SET enable_nestloop = off
AS $function$
    SELECT
        w.ord, w.user_id, w.goal_id, w.is_set, w.amount, w.inc, w.event_id, w.occurred_at,
        g.goal_id IS NOT NULL,
        g.target,
        g.goal_type = 'absolute',
        g.progress_mode = 'relative',
        g.is_daily,
        g.period_schedule,
        g.period_resets,
        g.period_reselects
    FROM unnest(p_writes) AS w
    LEFT JOIN challenge.goals AS g
        ON g.goal_id = w.goal_id
        AND g.retired_at IS NULL;
$function$;
