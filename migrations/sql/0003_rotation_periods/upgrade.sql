-- 0003: rotation periods. Goals get their derived period settings; progress rows record the period they
-- belong to and, for relative goals, the baseline; the goal_progress view shows rows as of now.

-- "type: daily" goals become repeatable (a daily period that resets) instead of counting once per day.
ALTER TABLE challenge.goals DROP COLUMN counts_once_per_day;

ALTER TABLE challenge.goals
    ADD COLUMN period_schedule text GENERATED ALWAYS AS (
        CASE WHEN rotation_enabled THEN rotation_schedule WHEN goal_type = 'daily' THEN 'daily' END
    ) STORED,
    ADD COLUMN period_resets boolean NOT NULL GENERATED ALWAYS AS (
        CASE WHEN rotation_enabled THEN rotation_reset_progress ELSE goal_type = 'daily' END
    ) STORED,
    ADD COLUMN period_reselects boolean NOT NULL GENERATED ALWAYS AS (
        CASE WHEN rotation_enabled THEN rotation_allow_reselection ELSE goal_type = 'daily' END
    ) STORED;

ALTER TABLE challenge.progress
    ADD COLUMN period_start timestamptz,
    ADD COLUMN baseline integer;

-- Existing rows of rotating goals belong to the period of their last write (the best evidence there is),
-- so progress made in the current period survives the upgrade; older rows rotate on their next write.
UPDATE challenge.progress AS p
SET
    period_start = pg_catalog.date_trunc(t.unit, p.updated_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
    expires_at = (pg_catalog.date_trunc(t.unit, p.updated_at AT TIME ZONE 'UTC') + t.length) AT TIME ZONE 'UTC'
FROM challenge.goals AS g
CROSS JOIN LATERAL (
    SELECT
        CASE g.period_schedule WHEN 'daily' THEN 'day' WHEN 'weekly' THEN 'week' WHEN 'monthly' THEN 'month' END
            AS unit,
        CASE g.period_schedule
            WHEN 'daily' THEN interval '1 day'
            WHEN 'weekly' THEN interval '7 days'
            WHEN 'monthly' THEN interval '1 month'
        END AS length
) AS t
WHERE g.goal_id = p.goal_id
    AND g.period_schedule IS NOT NULL;

CREATE OR REPLACE VIEW challenge.goal_progress AS
SELECT
    p.user_id,
    p.goal_id,
    g.challenge_id,
    p.namespace,
    CASE WHEN r.is_reset THEN 0 ELSE p.progress END AS progress,
    g.target,
    CASE WHEN r.is_reset THEN 'not_started' ELSE p.status END AS status,
    p.is_active,
    p.assigned_at,
    CASE WHEN r.is_reset THEN NULL ELSE p.completed_at END AS completed_at,
    CASE WHEN r.is_reset THEN NULL ELSE p.claimed_at END AS claimed_at,
    coalesce(r.current_period_end, p.expires_at) AS expires_at,
    p.updated_at
FROM challenge.progress AS p
JOIN challenge.goals AS g ON g.goal_id = p.goal_id
-- The current period, spelled out as in challenge._period_start/_period_end (functions load after this
-- file); tests/sql/test_rotation.py checks the two agree.
CROSS JOIN LATERAL (
    SELECT
        pg_catalog.date_trunc(t.unit, now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS current_period_start,
        (pg_catalog.date_trunc(t.unit, now() AT TIME ZONE 'UTC') + t.length) AT TIME ZONE 'UTC'
            AS current_period_end
    FROM (
        SELECT
            CASE g.period_schedule WHEN 'daily' THEN 'day' WHEN 'weekly' THEN 'week' WHEN 'monthly' THEN 'month' END
                AS unit,
            CASE g.period_schedule
                WHEN 'daily' THEN interval '1 day'
                WHEN 'weekly' THEN interval '7 days'
                WHEN 'monthly' THEN interval '1 month'
            END AS length
    ) AS t
) AS c
CROSS JOIN LATERAL (
    SELECT
        c.current_period_start,
        c.current_period_end,
        coalesce(
            g.period_resets
                AND coalesce(p.period_start, '-infinity') < c.current_period_start
                AND (p.status <> 'claimed' OR g.period_reselects),
            false
        ) AS is_reset
) AS r;
