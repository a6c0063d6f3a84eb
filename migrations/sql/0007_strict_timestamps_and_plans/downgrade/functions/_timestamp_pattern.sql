DROP FUNCTION IF EXISTS challenge._timestamp_pattern();
