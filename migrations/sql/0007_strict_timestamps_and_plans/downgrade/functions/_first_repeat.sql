DROP FUNCTION IF EXISTS challenge._first_repeat(text[]);
