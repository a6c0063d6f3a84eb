DROP FUNCTION IF EXISTS challenge._limits();
