DROP FUNCTION IF EXISTS challenge._apply_writes(challenge._write[], boolean[], boolean, boolean, OUT counts jsonb, OUT outcomes text[], OUT completed_users text[], OUT completed_goals text[]);
