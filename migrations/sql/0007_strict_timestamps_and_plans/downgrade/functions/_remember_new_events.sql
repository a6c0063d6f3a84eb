DROP FUNCTION IF EXISTS challenge._remember_new_events(jsonb);
