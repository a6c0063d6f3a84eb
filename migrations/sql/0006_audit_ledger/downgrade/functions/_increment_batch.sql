DROP FUNCTION IF EXISTS challenge._increment_batch(jsonb, boolean);
