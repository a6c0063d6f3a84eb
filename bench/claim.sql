-- Workload claim: one challenge.claim_goal per transaction, on a completed active row.
--
-- The seed completes the active increment rows of players with n % 10 = 1 (active: odd goal numbers).
-- The claim id is derived from the pair, so drawing a pair that an earlier transaction already claimed
-- is a replay (same answer, replayed = true), never an error: the first claim marks the row, writes the
-- outbox row and NOTIFYs; a replay only reads them back. Concurrent claims of one pair queue on its lock.
-- Variables: :players, :goals (even).
\set uid 10 * random(0, (:players - 1) / 10) + 1
\set gid 2 * random(1, :goals / 2) - 1
SELECT claim_id, replayed
FROM challenge.claim_goal('user-' || :uid, 'goal-' || :gid, 'bench-' || :uid || '-' || :gid);
