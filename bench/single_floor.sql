-- Workload single_floor: the floor for a single increment, a bare guarded UPDATE by primary key
-- (pgbench -M prepared), on the same (player, goal) draws as single_ours.sql (see :mode there).
--
-- It is the least a single increment must do: find the row, skip it when inactive or claimed, add 1 and
-- stamp status/updated_at (a completed row stays completed, as the table's checks require). No outcome, no target, no completion, no argument checks.
-- Variables: :players, :goals (even), :mode.
\set uid random(1, :players)
\set uid case when :uid % 100 = 2 then :uid - 1 else :uid end
\set a case when :mode = 2 then random(0, 1) else :mode end
\set gid 2 * random(1, :goals / 2) - ((:uid + 1 - :a) % 2)
UPDATE challenge.progress
SET progress = progress + 1,
    status = CASE WHEN status = 'completed' THEN status ELSE 'in_progress' END,
    updated_at = now()
WHERE user_id = 'user-' || :uid AND goal_id = 'goal-' || :gid AND is_active AND status <> 'claimed';
