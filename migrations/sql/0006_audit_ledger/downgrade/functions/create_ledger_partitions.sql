DROP FUNCTION IF EXISTS challenge.create_ledger_partitions(integer);
