-- Revision 0011: the order of a row's changes, independent of the node that makes them.
-- progress.version grows by one with every change of a row; existing rows start at 0 (a constant
-- default: no table rewrite), new rows at the clock's microseconds. The ledger records it per change.
ALTER TABLE challenge.progress ADD COLUMN version bigint NOT NULL DEFAULT 0;
ALTER TABLE challenge.progress
    ALTER COLUMN version SET DEFAULT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
ALTER TABLE challenge.ledger ADD COLUMN row_version bigint;
