DROP FUNCTION IF EXISTS challenge._apply_access();
