-- Workload batch_floor: the floor for a 1,000-item batch increment, a bare guarded UPDATE ... FROM
-- jsonb_to_recordset over the same payload as batch_ours (same payload block, same seed).
--
-- It is the least any batch increment must do: parse the items, find each row by primary key, skip
-- inactive and claimed rows, write progress/status/updated_at (completed stays completed, as the table's
-- checks require). No outcome per item, no completion, no dedup, no validation; duplicate pairs would
-- silently apply one arbitrary delta (the payload has none).
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
UPDATE challenge.progress AS p
SET progress = p.progress + r.delta,
    status = CASE WHEN p.status = 'completed' THEN p.status ELSE 'in_progress' END,
    updated_at = now()
FROM jsonb_to_recordset((
    SELECT jsonb_agg(jsonb_build_object('user_id', 'user-' || u, 'goal_id', 'goal-' || g, 'delta', delta)
                     ORDER BY n)
    FROM items
)) AS r(user_id text, goal_id text, delta integer)
WHERE p.user_id = r.user_id AND p.goal_id = r.goal_id AND p.is_active AND p.status <> 'claimed';
