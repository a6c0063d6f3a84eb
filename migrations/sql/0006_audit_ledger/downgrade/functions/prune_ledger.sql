DROP FUNCTION IF EXISTS challenge.prune_ledger(interval, integer);
