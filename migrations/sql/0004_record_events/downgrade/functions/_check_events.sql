DROP FUNCTION IF EXISTS challenge._check_events(jsonb);
