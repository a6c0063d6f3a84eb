DROP FUNCTION IF EXISTS challenge.record_events(jsonb);
