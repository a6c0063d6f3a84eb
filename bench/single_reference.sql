-- Workload single_reference: the reference system's single IncrementProgress (regular goal, pool variant,
-- reference-system.md 2.7), re-created from its description, on the same draws as single_ours.sql.
--
-- One UPDATE by primary key guarded by is_active and not claimed; the caller passes the target from its
-- config; status becomes completed at the target, else in_progress; completed_at is set the first time.
-- No outcome is reported (a skipped row is zero rows updated), no event id, no daily rule.
-- Variables: :players, :goals (even), :mode, :target.
\set uid random(1, :players)
\set uid case when :uid % 100 = 2 then :uid - 1 else :uid end
\set a case when :mode = 2 then random(0, 1) else :mode end
\set gid 2 * random(1, :goals / 2) - ((:uid + 1 - :a) % 2)
UPDATE challenge.progress
SET progress = progress + 1,
    status = CASE WHEN progress + 1 >= :target THEN 'completed' ELSE 'in_progress' END,
    completed_at = CASE WHEN completed_at IS NULL AND progress + 1 >= :target THEN now() ELSE completed_at END,
    updated_at = now()
WHERE user_id = 'user-' || :uid AND goal_id = 'goal-' || :gid AND is_active AND status <> 'claimed';
