DROP FUNCTION IF EXISTS challenge._stamps_match(text, bigint);
