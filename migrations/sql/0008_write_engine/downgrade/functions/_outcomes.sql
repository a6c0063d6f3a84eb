DROP FUNCTION IF EXISTS challenge._outcomes();
