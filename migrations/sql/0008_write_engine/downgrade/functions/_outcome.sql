DROP FUNCTION IF EXISTS challenge._outcome(boolean, boolean, boolean, boolean, boolean, boolean, boolean, boolean);
