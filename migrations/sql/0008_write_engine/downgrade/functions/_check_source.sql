DROP FUNCTION IF EXISTS challenge._check_source(text, text);
