-- challenge._ledger_enabled() RETURNS boolean
--
-- Private. Whether the write functions record their changes in challenge.ledger. The deployment's
-- switch decides (challenge._ledger_switch: challenge.set_ledger, role admin; on unless switched off). The setting pgchallenge.ledger can only add to it: on (any boolean spelling of true)
-- records this session's, role's or database's writes even while the switch is off, and off changes
-- nothing, so a caller cannot keep its own writes out of the audit trail. Any value that is not a boolean
-- raises CH003 naming the setting (challenge._ledger_setting), so a typo never goes unnoticed.
--
-- Plain SQL without a SET clause, so it is inlined: an uncorrelated subquery, run once per statement
-- (a primary-key lookup), and a setting lookup; every write calls it, the single increment included.
CREATE OR REPLACE FUNCTION challenge._ledger_enabled()
RETURNS boolean
LANGUAGE sql
STABLE
AS $function$
    -- The setting's answer first: true (forced on), NULL (the switch decides), or an error for a value that
    -- is not a boolean. coalesce evaluates only what it needs, in order: the switch is read only when the
    -- setting leaves the decision to it.
    SELECT coalesce(
        CASE coalesce(pg_catalog.current_setting('pgchallenge.ledger', true), '')
            WHEN 'on' THEN true
            WHEN '' THEN NULL
            WHEN 'off' THEN NULL
            ELSE nullif(
                challenge._ledger_setting(pg_catalog.current_setting('pgchallenge.ledger', true)), false
            )
        END,
        challenge._ledger_switch()
    );
$function$;
