-- challenge._ledger_enabled() RETURNS boolean
--
-- Private. Whether the write functions record their changes in challenge.ledger: the setting
-- pgchallenge.ledger (on by default; off turns the ledger off for a database, role or session:
-- ALTER DATABASE mydb SET pgchallenge.ledger = off). Any other value raises CH003 naming the setting
-- (challenge._ledger_setting), so a typo never switches the audit trail off silently.
--
-- Plain SQL without a SET clause, so it is inlined: the usual values (unset, on, off) cost a setting
-- lookup and a comparison, not a function call; every write calls it, the single increment included.
CREATE OR REPLACE FUNCTION challenge._ledger_enabled()
RETURNS boolean
LANGUAGE sql
STABLE
AS $function$
    SELECT CASE coalesce(pg_catalog.current_setting('pgchallenge.ledger', true), 'on')
        WHEN 'on' THEN true
        WHEN 'off' THEN false
        ELSE challenge._ledger_setting(pg_catalog.current_setting('pgchallenge.ledger', true))
    END;
$function$;
