DROP FUNCTION IF EXISTS challenge._writes_in_catalog(challenge._write[]);
