-- Workload single_floor: the floor for a single increment, a bare guarded UPDATE by primary key
-- (pgbench -M prepared), on the same random (player, goal) distribution as single_ours.sql.
--
-- It is the least a single increment must do: find the row, skip it when inactive or claimed, add 1 and
-- stamp status/updated_at. No outcome, no target, no completion, no argument checks.
-- Variables: :players, :goals.
\set uid random(1, :players)
\set gid random(1, :goals)
UPDATE challenge.progress
SET progress = progress + 1, status = 'in_progress', updated_at = now()
WHERE user_id = 'user-' || :uid AND goal_id = 'goal-' || :gid AND is_active AND status <> 'claimed';
