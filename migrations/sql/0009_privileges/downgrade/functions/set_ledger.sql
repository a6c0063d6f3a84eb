DROP FUNCTION IF EXISTS challenge.set_ledger(boolean);
