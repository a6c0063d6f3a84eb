DROP FUNCTION IF EXISTS challenge._ledger_switch();
