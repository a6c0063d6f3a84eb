DROP FUNCTION IF EXISTS challenge.delete_expired_progress(interval, integer);
