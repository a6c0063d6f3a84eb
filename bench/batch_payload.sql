-- Workload batch_payload: the cost of building the 1,000-item payload alone (no write).
--
-- Every batch script builds its payload inside SQL from the same seeded random() sequence (pgbench
-- --random-seed fixes :seed, setseed() fixes random()), so that ours, the floor and the reference strategy
-- see exactly the same (user, goal, delta) items. This script runs that construction and nothing else: the
-- runner subtracts its median from the others to report the write's own cost ("net" columns).
-- Variables: :players, :goals, :batch (items per call), :target (unused here).
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
-- payload: end
SELECT jsonb_array_length((
    SELECT jsonb_agg(jsonb_build_object('user_id', 'user-' || u, 'goal_id', 'goal-' || g, 'delta', delta)
                     ORDER BY n)
    FROM items
));
