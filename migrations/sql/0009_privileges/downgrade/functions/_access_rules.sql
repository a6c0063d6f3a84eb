DROP FUNCTION IF EXISTS challenge._access_rules();
