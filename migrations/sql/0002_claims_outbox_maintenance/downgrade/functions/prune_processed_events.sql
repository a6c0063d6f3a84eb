DROP FUNCTION IF EXISTS challenge.prune_processed_events(interval, integer);
