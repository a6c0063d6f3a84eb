DROP FUNCTION IF EXISTS challenge.status();
