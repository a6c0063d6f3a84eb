DROP FUNCTION IF EXISTS challenge._advance_source(text, text, bigint, bigint);
