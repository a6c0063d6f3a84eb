-- Workload batch_ours: one 1,000-item call of challenge.increment_progress_batch.
--
-- The payload is built inside SQL (block between the payload markers, identical in every batch script and
-- timed alone by batch_payload.sql) from the seeded random() sequence, so ours, the floor and the
-- reference strategy get the same items in the same run. Items are random (user, goal) pairs over all
-- goals, about half on inactive rows, which are skipped (the reference's mixed 50% benchmark).
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
SELECT challenge.increment_progress_batch((
    SELECT jsonb_agg(jsonb_build_object('user_id', 'user-' || u, 'goal_id', 'goal-' || g, 'delta', delta)
                     ORDER BY n)
    FROM items
));
