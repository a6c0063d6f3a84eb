-- pgchallenge benchmark seed: a catalog loaded through challenge.load_config, then one progress row per
-- (player, goal), bulk-inserted directly (one INSERT ... SELECT; is_active stated explicitly).
--
-- Usage (psql variables, all optional):
--   psql -X -v ON_ERROR_STOP=1 -v players=100000 -v goals=10 -v target=1000000000 -f bench/seed.sql
--
-- Shape (the reference's "mixed 50% active" benchmark data):
--   * one challenge "bench" with :goals increment goals "goal-1" .. "goal-N" whose target (:target) is far
--     above anything a benchmark run can add, so rows never complete and every write stays a plain increment;
--   * players "user-1" .. "user-P", every one assigned every goal;
--   * exactly half the rows active: a row is active when (player + goal) is even, so each player has half
--     of the goals active and a random (player, goal) pair hits an inactive row half of the time;
--   * rows start at progress 0, status not_started, in primary-key order.
-- The benchmark scripts (bench/*.sql) build user ids as 'user-' || n and goal ids as 'goal-' || n.

\if :{?players}
\else
\set players 100000
\endif
\if :{?goals}
\else
\set goals 10
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
    )
)))) IS NOT NULL AS catalog_loaded
\gset

INSERT INTO challenge.progress (user_id, goal_id, namespace, progress, status, is_active, assigned_at,
                                updated_at)
SELECT 'user-' || u, 'goal-' || g, 'default', 0, 'not_started', (u + g) % 2 = 0, now(), now()
FROM generate_series(1, (:players)::int) AS u
CROSS JOIN generate_series(1, (:goals)::int) AS g
ORDER BY 'user-' || u, 'goal-' || g;

COMMIT;
