-- pgchallenge benchmark seed: a catalog loaded through challenge.load_config, then one progress row per
-- (player, goal), bulk-inserted directly into the private table (one INSERT ... SELECT; is_active, status
-- and the timestamps stated explicitly, so the completed and claimed rows are set up without a claim).
--
-- Usage (psql variables, all optional):
--   psql -X -v ON_ERROR_STOP=1 -v players=100000 -v goals=10 -v abs_goals=2 -v target=1000000000 \
--        -f bench/seed.sql
--
-- Shape (the reference's "mixed 50% active" benchmark data):
--   * one challenge "bench" with :goals increment goals "goal-1" .. "goal-N" and :abs_goals absolute goals
--     "level-1" .. "level-M" (for set_progress_batch), every target (:target) far above anything a
--     benchmark run can add, so rows never complete by accident and every write stays a plain write;
--   * players "user-1" .. "user-P", every one assigned every goal;
--   * exactly half the rows active: a row is active when (player + goal number) is even, so each player
--     has half of the goals active and a random (player, goal) pair hits an inactive row half of the time;
--   * on increment goals, the active rows of players with n % 10 = 1 are completed (progress = target):
--     the claim workload claims them; the active rows of players with n % 100 = 2 are already claimed
--     (1% of the players), so the guards meet claimed rows too;
--   * every other row starts at progress 0, status not_started; rows are inserted in primary-key order.
-- The benchmark scripts (bench/*.sql) build user ids as 'user-' || n, goal ids as 'goal-' || n and
-- 'level-' || n.

\if :{?players}
\else
\set players 100000
\endif
\if :{?goals}
\else
\set goals 10
\endif
\if :{?abs_goals}
\else
\set abs_goals 2
\endif
\if :{?target}
\else
\set target 1000000000
\endif

\set QUIET on

BEGIN;

SELECT challenge.load_config(jsonb_build_object('challenges', jsonb_build_array(jsonb_build_object(
    'challengeId', 'bench',
    'name', 'Benchmark challenge',
    'description', 'pgchallenge benchmark catalog',
    'goals', (
        SELECT jsonb_agg(jsonb_build_object(
            'goalId', 'goal-' || g,
            'name', 'Benchmark goal ' || g,
            'description', 'increment goal for the benchmarks',
            'type', 'increment',
            'daily', false,
            'eventSource', 'statistic',
            'defaultAssigned', true,
            'requirement', jsonb_build_object(
                'statCode', 'stat-' || g, 'operator', '>=', 'targetValue', (:target)::int,
                'progressMode', 'absolute'),
            'reward', jsonb_build_object('type', 'ITEM', 'rewardId', 'reward-' || g, 'quantity', 1)
        ) ORDER BY g)
        FROM generate_series(1, (:goals)::int) AS g
    ) || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'goalId', 'level-' || a,
            'name', 'Benchmark level ' || a,
            'description', 'absolute goal for the benchmarks',
            'type', 'absolute',
            'eventSource', 'statistic',
            'defaultAssigned', true,
            'requirement', jsonb_build_object(
                'statCode', 'level-' || a, 'operator', '>=', 'targetValue', (:target)::int,
                'progressMode', 'absolute'),
            'reward', jsonb_build_object('type', 'WALLET', 'rewardId', 'GOLD', 'quantity', 10)
        ) ORDER BY a)
        FROM generate_series(1, (:abs_goals)::int) AS a
    ), '[]'::jsonb)
)))) IS NOT NULL AS catalog_loaded
\gset

INSERT INTO challenge.progress (user_id, goal_id, namespace, progress, status, is_active, assigned_at,
                                completed_at, claimed_at, updated_at)
SELECT s.user_id, s.goal_id, 'default',
       CASE WHEN s.state = 'not_started' THEN 0 ELSE (:target)::int END,
       s.state, s.is_active, now(),
       CASE WHEN s.state <> 'not_started' THEN now() END,
       CASE WHEN s.state = 'claimed' THEN now() END,
       now()
FROM (
    SELECT 'user-' || u AS user_id, 'goal-' || g AS goal_id, (u + g) % 2 = 0 AS is_active,
           CASE
               WHEN (u + g) % 2 = 0 AND u % 10 = 1 THEN 'completed'
               WHEN (u + g) % 2 = 0 AND u % 100 = 2 THEN 'claimed'
               ELSE 'not_started'
           END AS state
    FROM generate_series(1, (:players)::int) AS u
    CROSS JOIN generate_series(1, (:goals)::int) AS g
    UNION ALL
    SELECT 'user-' || u, 'level-' || a, (u + a) % 2 = 0, 'not_started'
    FROM generate_series(1, (:players)::int) AS u
    CROSS JOIN generate_series(1, (:abs_goals)::int) AS a
) AS s
ORDER BY s.user_id, s.goal_id;

COMMIT;
