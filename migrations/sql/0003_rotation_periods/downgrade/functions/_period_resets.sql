DROP FUNCTION IF EXISTS challenge._period_resets(challenge.progress, challenge.goals, timestamptz);
