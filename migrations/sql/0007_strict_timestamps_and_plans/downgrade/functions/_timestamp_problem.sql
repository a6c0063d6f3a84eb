DROP FUNCTION IF EXISTS challenge._timestamp_problem(jsonb);
