DROP FUNCTION IF EXISTS challenge._is_zoned_timestamp(jsonb);
