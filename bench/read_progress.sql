-- Workload read_progress: one challenge.get_user_progress per transaction (every goal of one player).
--
-- A seeded player has one row per goal (increment and absolute goals, active or not); the rows come
-- back ordered by challenge and goal through the primary key's user_id prefix.
-- Variables: :players.
\set uid random(1, :players)
SELECT goal_id, progress, target, status FROM challenge.get_user_progress('user-' || :uid);
