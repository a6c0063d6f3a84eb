-- challenge._ledger_switch() RETURNS boolean
--
-- Private: the deployment's switch of the audit ledger, as challenge.set_ledger left it (on unless
-- switched off). challenge._ledger_enabled adds the setting pgchallenge.ledger to it; status reports it.
-- Plain SQL without a SET clause, so it is inlined into its callers (a primary-key lookup).
CREATE OR REPLACE FUNCTION challenge._ledger_switch()
RETURNS boolean
LANGUAGE sql
STABLE
AS $function$
    SELECT coalesce(
        (SELECT s.value = 'on' FROM challenge.deployment_settings AS s WHERE s.name = 'ledger'), true
    );
$function$;
