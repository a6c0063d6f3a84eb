-- Workload set_batch_ours: one call of challenge.set_progress_batch with :batch absolute values.
--
-- The payload is built inside SQL from the seeded random() sequence: :batch distinct (player, level goal)
-- pairs drawn uniformly over the :abs_goals absolute goals of every player (about half on inactive rows,
-- which are skipped), each with a random value. occurred_at defaults to now(), so no value is stale.
-- Variables: :players, :abs_goals, :batch.
\set seed random(-1000000, 1000000) / 1000000.0
SELECT setseed(:seed);
WITH items AS MATERIALIZED (
    SELECT n, u, a, value
    FROM (
        SELECT DISTINCT ON (u, a) n, u, a, value
        FROM (
            SELECT n,
                   1 + floor(random() * :players::int)::int AS u,
                   1 + floor(random() * :abs_goals::int)::int AS a,
                   floor(random() * 1000000)::int AS value
            FROM generate_series(1, :batch::int * 11 / 10) AS n
        ) AS candidate
        ORDER BY u, a, n
    ) AS distinct_pair
    ORDER BY n
    LIMIT :batch::int
)
SELECT challenge.set_progress_batch((
    SELECT jsonb_agg(jsonb_build_object('user_id', 'user-' || u, 'goal_id', 'level-' || a, 'value', value)
                     ORDER BY n)
    FROM items
));
