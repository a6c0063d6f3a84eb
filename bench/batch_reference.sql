-- Workload batch_reference: the reference system's slow batch increment strategy, re-created from its
-- description (reference-system.md 2.8 and 6.3, the "TX variant" kept since v0.5.0), on the same items as
-- batch_ours (same payload block, same seed).
--
-- The input goes in as parallel arrays (user_ids, goal_ids, deltas, targets, is_daily), as the reference's
-- Go code binds them. INSERT ... SELECT FROM UNNEST(arrays) ON CONFLICT (user_id, goal_id) DO UPDATE, and
-- the update branch fetches delta, target and is_daily through correlated scalar subqueries that re-UNNEST
-- the input arrays filtered on goal_id only, LIMIT 1: nine subplans per conflicting row, each scanning the
-- whole input, so the cost grows with rows x batch size (the reference measured 295 ms at 1,000 rows, 50%
-- active). The goal-only filter is also the reference's correctness bug (every user's row for a goal gets
-- the first item's delta); it is kept, since the strategy's cost is what is measured. Guards as in the
-- reference's v0.5.0 conflict filter: not claimed and is_active. Daily goals follow the reference's rule
-- (one increment per UTC day of updated_at). Every pair of the seed exists, so the insert branch never
-- fires, and the payload has no duplicate pair (which would make the reference raise "ON CONFLICT DO UPDATE
-- command cannot affect row a second time").
-- Variables: :players, :goals, :batch (items per call), :target (every goal's target, as the caller
-- would pass it from the config).
\set seed random(-1000000, 1000000) / 1000000.0
SELECT setseed(:seed);
-- payload: begin
WITH items AS MATERIALIZED (
    -- "batch" distinct (user, goal) pairs drawn uniformly over every player and all goals (about half of
    -- them hit inactive rows); a pair drawn twice keeps its first draw.
    SELECT n, u, g, delta
    FROM (
        SELECT DISTINCT ON (u, g) n, u, g, delta
        FROM (
            SELECT n,
                   1 + floor(random() * :players::int)::int AS u,
                   1 + floor(random() * :goals::int)::int AS g,
                   1 + floor(random() * 5)::int AS delta
            FROM generate_series(1, :batch::int * 11 / 10) AS n
        ) AS candidate
        ORDER BY u, g, n
    ) AS distinct_pair
    ORDER BY n
    LIMIT :batch::int
)
, input AS (
    SELECT array_agg('user-' || u ORDER BY n) AS user_ids,
           array_agg('goal-' || g ORDER BY n) AS goal_ids,
           array_agg(delta ORDER BY n) AS deltas,
           array_agg(:target::int ORDER BY n) AS targets,
           array_agg(false ORDER BY n) AS is_daily
    FROM items
)
-- payload: end
INSERT INTO challenge.progress AS p (user_id, goal_id, namespace, progress, status, is_active, completed_at,
                                     updated_at)
SELECT x.user_id, x.goal_id, 'default', x.delta,
       CASE WHEN x.delta >= x.target THEN 'completed' ELSE 'in_progress' END,
       true,
       CASE WHEN x.delta >= x.target THEN now() END,
       now()
FROM input, unnest(input.user_ids, input.goal_ids, input.deltas, input.targets, input.is_daily)
    AS x(user_id, goal_id, delta, target, is_daily)
ON CONFLICT (user_id, goal_id) DO UPDATE SET
    progress = CASE
        WHEN (SELECT s.is_daily FROM input, unnest(input.goal_ids, input.is_daily) AS s(goal_id, is_daily)
              WHERE s.goal_id = excluded.goal_id LIMIT 1)
             AND (p.updated_at AT TIME ZONE 'UTC')::date = (now() AT TIME ZONE 'UTC')::date
        THEN p.progress
        ELSE p.progress + (SELECT s.delta FROM input, unnest(input.goal_ids, input.deltas) AS s(goal_id, delta)
                           WHERE s.goal_id = excluded.goal_id LIMIT 1)
    END,
    status = CASE
        WHEN (SELECT s.is_daily FROM input, unnest(input.goal_ids, input.is_daily) AS s(goal_id, is_daily)
              WHERE s.goal_id = excluded.goal_id LIMIT 1)
             AND (p.updated_at AT TIME ZONE 'UTC')::date = (now() AT TIME ZONE 'UTC')::date
        THEN CASE
            WHEN p.progress >= (SELECT s.target FROM input, unnest(input.goal_ids, input.targets)
                                    AS s(goal_id, target) WHERE s.goal_id = excluded.goal_id LIMIT 1)
            THEN 'completed' ELSE 'in_progress' END
        WHEN p.progress + (SELECT s.delta FROM input, unnest(input.goal_ids, input.deltas) AS s(goal_id, delta)
                           WHERE s.goal_id = excluded.goal_id LIMIT 1)
             >= (SELECT s.target FROM input, unnest(input.goal_ids, input.targets) AS s(goal_id, target)
                 WHERE s.goal_id = excluded.goal_id LIMIT 1)
        THEN 'completed'
        ELSE 'in_progress'
    END,
    completed_at = CASE
        WHEN (SELECT s.is_daily FROM input, unnest(input.goal_ids, input.is_daily) AS s(goal_id, is_daily)
              WHERE s.goal_id = excluded.goal_id LIMIT 1)
             AND (p.updated_at AT TIME ZONE 'UTC')::date = (now() AT TIME ZONE 'UTC')::date
        THEN p.completed_at
        WHEN p.completed_at IS NULL
             AND p.progress + (SELECT s.delta FROM input, unnest(input.goal_ids, input.deltas)
                                   AS s(goal_id, delta) WHERE s.goal_id = excluded.goal_id LIMIT 1)
                 >= (SELECT s.target FROM input, unnest(input.goal_ids, input.targets) AS s(goal_id, target)
                     WHERE s.goal_id = excluded.goal_id LIMIT 1)
        THEN now()
        ELSE p.completed_at
    END,
    updated_at = now()
WHERE p.status <> 'claimed' AND p.is_active;
