DROP FUNCTION IF EXISTS challenge._rotate_rows(text, text[]);
