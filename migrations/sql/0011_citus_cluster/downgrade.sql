-- Revision 0011 undone, after its functions are restored: the columns go.
ALTER TABLE challenge.ledger DROP COLUMN row_version;
ALTER TABLE challenge.progress DROP COLUMN version;
