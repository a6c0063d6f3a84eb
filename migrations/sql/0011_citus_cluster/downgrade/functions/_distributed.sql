DROP FUNCTION IF EXISTS challenge._distributed();
