DROP FUNCTION IF EXISTS challenge._write_batch(jsonb, text, boolean);
