-- challenge._distributed() RETURNS boolean
--
-- Private: whether the deployment runs distributed on a Citus cluster, as `pgchallenge citus distribute`
-- recorded it in challenge.deployment_settings (name 'distributed'). There a row lock cannot span the
-- shards of a table: see challenge._row_lock. Plain SQL without a SET clause, so it is inlined into its
-- callers (a primary-key lookup).
CREATE OR REPLACE FUNCTION challenge._distributed()
RETURNS boolean
LANGUAGE sql
STABLE
AS $function$
    SELECT EXISTS (
        SELECT FROM challenge.deployment_settings AS s WHERE s.name = 'distributed' AND s.value = 'citus'
    );
$function$;
