-- challenge._ledger_enabled() RETURNS boolean
--
-- Private. Whether the write functions record their changes in challenge.ledger: the setting
-- pgchallenge.ledger (on by default; off turns the ledger off for a database, role or session:
-- ALTER DATABASE mydb SET pgchallenge.ledger = off). Any other value raises CH003 naming the setting,
-- so a typo never switches the audit trail off silently.
CREATE OR REPLACE FUNCTION challenge._ledger_enabled()
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_setting text := lower(btrim(coalesce(current_setting('pgchallenge.ledger', true), '')));
BEGIN
    IF v_setting IN ('', 'on', 'true', 'yes', '1') THEN
        RETURN true;
    ELSIF v_setting IN ('off', 'false', 'no', '0') THEN
        RETURN false;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'CH003',
        MESSAGE = format('invalid argument: setting pgchallenge.ledger must be on or off, got %s',
                         quote_literal(current_setting('pgchallenge.ledger', true))),
        HINT = 'Nothing was written. Fix the setting (SET, ALTER ROLE or ALTER DATABASE ... SET).';
END;
$function$;
