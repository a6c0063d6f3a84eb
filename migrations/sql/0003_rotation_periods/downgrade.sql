-- Reverses 0003 (the functions were restored to their 0002 versions before this runs).
CREATE OR REPLACE VIEW challenge.goal_progress AS
SELECT
    p.user_id,
    p.goal_id,
    g.challenge_id,
    p.namespace,
    p.progress,
    g.target,
    p.status,
    p.is_active,
    p.assigned_at,
    p.completed_at,
    p.claimed_at,
    p.expires_at,
    p.updated_at
FROM challenge.progress AS p
JOIN challenge.goals AS g ON g.goal_id = p.goal_id;

ALTER TABLE challenge.progress
    DROP COLUMN period_start,
    DROP COLUMN baseline;

ALTER TABLE challenge.goals
    DROP COLUMN period_schedule,
    DROP COLUMN period_resets,
    DROP COLUMN period_reselects;

ALTER TABLE challenge.goals
    ADD COLUMN counts_once_per_day boolean NOT NULL GENERATED ALWAYS AS (is_daily OR goal_type = 'daily') STORED;
