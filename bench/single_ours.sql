-- Workload single_ours: one challenge.increment_progress(user, goal, 1) per transaction (pgbench -M prepared).
--
-- The (player, goal) pair is uniform over every seeded row, so about half the calls hit an inactive row
-- and are reported "inactive" (the reference's single IncrementProgress was measured on active and
-- inactive goals alike). Compared with single_floor.sql at the same client counts and durations.
-- Variables: :players, :goals.
\set uid random(1, :players)
\set gid random(1, :goals)
SELECT * FROM challenge.increment_progress('user-' || :uid, 'goal-' || :gid, 1);
