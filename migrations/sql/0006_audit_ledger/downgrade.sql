-- Drops the ledger with every partition and its sequence (owned by the change_id column).
DROP TABLE challenge.ledger;
