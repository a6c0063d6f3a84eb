DROP FUNCTION IF EXISTS challenge._period_end(text, timestamptz);
