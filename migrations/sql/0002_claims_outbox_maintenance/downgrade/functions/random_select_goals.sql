DROP FUNCTION IF EXISTS challenge.random_select_goals(text, text, integer, boolean, boolean, text);
