DROP FUNCTION IF EXISTS challenge._activate_goals(text, text, text[], boolean);
