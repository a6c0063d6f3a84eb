DROP FUNCTION IF EXISTS challenge.explain_progress(text, text);
