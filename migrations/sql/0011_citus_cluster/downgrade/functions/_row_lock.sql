DROP FUNCTION IF EXISTS challenge._row_lock(text);
