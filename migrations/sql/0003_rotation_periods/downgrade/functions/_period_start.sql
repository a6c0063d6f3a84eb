DROP FUNCTION IF EXISTS challenge._period_start(text, timestamptz);
