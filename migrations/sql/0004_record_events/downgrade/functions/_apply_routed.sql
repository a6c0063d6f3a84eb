DROP FUNCTION IF EXISTS challenge._apply_routed(jsonb, boolean);
