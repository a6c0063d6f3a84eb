DROP FUNCTION IF EXISTS challenge._set_batch(jsonb, boolean);
