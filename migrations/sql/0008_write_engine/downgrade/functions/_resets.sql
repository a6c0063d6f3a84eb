DROP FUNCTION IF EXISTS challenge._resets(timestamptz, text, boolean, boolean, timestamptz);
