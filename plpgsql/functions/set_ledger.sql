-- challenge.set_ledger(p_enabled boolean) RETURNS boolean
--
-- The deployment's switch of the audit ledger (role admin): false stops every write function from
-- recording its changes in challenge.ledger, true (the default) records them again. Takes effect for
-- every session at once, from the statements that start after this transaction commits. The setting
-- pgchallenge.ledger = on still records one session's, role's or database's writes while the switch is
-- off; no session can switch it off for itself. Returns the new state. NULL raises CH003.
CREATE OR REPLACE FUNCTION challenge.set_ledger(p_enabled boolean)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF p_enabled IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = 'invalid argument: enabled must be true or false, got NULL';
    END IF;
    INSERT INTO challenge.deployment_settings AS s (name, value)
    VALUES ('ledger', CASE WHEN p_enabled THEN 'on' ELSE 'off' END)
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
    RETURN p_enabled;
END;
$function$;
