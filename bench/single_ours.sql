-- Workload single_ours: one challenge.increment_progress(user, goal, 1) per transaction (pgbench -M prepared).
--
-- The (player, goal) pair is drawn by :mode: 1 an active row, 0 an inactive row (reported "inactive",
-- nothing written), 2 either (uniform over every seeded increment row, so about half the calls are
-- skipped: the reference's mixed benchmark). Players with n % 100 = 2 (claimed rows) are never drawn, so
-- "active" means movable. Compared with single_floor.sql and single_reference.sql on the same draws.
-- Variables: :players, :goals (even), :mode.
\set uid random(1, :players)
\set uid case when :uid % 100 = 2 then :uid - 1 else :uid end
\set a case when :mode = 2 then random(0, 1) else :mode end
\set gid 2 * random(1, :goals / 2) - ((:uid + 1 - :a) % 2)
SELECT * FROM challenge.increment_progress('user-' || :uid, 'goal-' || :gid, 1);
