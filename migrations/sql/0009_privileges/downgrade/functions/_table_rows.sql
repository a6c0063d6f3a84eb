DROP FUNCTION IF EXISTS challenge._table_rows(regclass);
