-- Workload initialize: one challenge.initialize_player per transaction, returning the player's active goals.
--
-- Players are drawn from 1 .. 2 x :players: a seeded player takes the fast path (every default goal
-- already has a row: nothing inserted, its active goals returned); a new one gets a row per default goal
-- inserted first (only on its first draw, later draws are the fast path).
-- Variables: :players.
\set uid random(1, 2 * :players)
SELECT goal_id, progress, status FROM challenge.initialize_player('user-' || :uid);
