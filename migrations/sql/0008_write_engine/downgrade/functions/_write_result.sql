DROP FUNCTION IF EXISTS challenge._write_result(jsonb, text[], text[]);
