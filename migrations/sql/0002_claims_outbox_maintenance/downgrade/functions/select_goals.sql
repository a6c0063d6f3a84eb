DROP FUNCTION IF EXISTS challenge.select_goals(text, text, text[], boolean);
