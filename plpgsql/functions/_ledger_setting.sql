-- challenge._ledger_setting(p_value text) RETURNS boolean
--
-- Private, for challenge._ledger_enabled: reads a value of the setting pgchallenge.ledger the fast path
-- there did not recognise. Accepted, case and spaces aside: on, true, yes, 1 (true: record) and unset or
-- empty, off, false, no, 0 (false: the deployment's switch decides). Any other value raises CH003 naming
-- the setting, so a typo never goes unnoticed.
CREATE OR REPLACE FUNCTION challenge._ledger_setting(p_value text)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_setting text := lower(btrim(coalesce(p_value, '')));
BEGIN
    IF v_setting IN ('on', 'true', 'yes', '1') THEN
        RETURN true;
    ELSIF v_setting IN ('', 'off', 'false', 'no', '0') THEN
        RETURN false;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'CH003',
        MESSAGE = format('invalid argument: setting pgchallenge.ledger must be on or off, got %s',
                         quote_literal(p_value)),
        HINT = 'Nothing was written. Fix the setting (SET, ALTER ROLE or ALTER DATABASE ... SET); the '
            'ledger itself is switched by challenge.set_ledger.';
END;
$function$;
