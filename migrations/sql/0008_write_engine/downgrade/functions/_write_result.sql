DROP FUNCTION IF EXISTS challenge._write_result(text[], text[], text[]);
