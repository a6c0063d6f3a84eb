DROP FUNCTION IF EXISTS challenge.acquire_source(text, text);
