DROP FUNCTION IF EXISTS challenge._check_maintenance_args(interval, integer);
