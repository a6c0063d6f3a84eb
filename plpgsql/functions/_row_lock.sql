-- challenge._row_lock(p_alias text) RETURNS text
--
-- Private: the row-lock clause a statement that picks rows of many players appends (lease_reward_grants,
-- delete_expired_progress, prune_processed_events): FOR UPDATE OF p_alias SKIP LOCKED on plain
-- PostgreSQL, so concurrent callers skip each other's rows instead of waiting; nothing on a Citus cluster
-- (challenge._distributed), which cannot lock rows across shards. Every such statement re-checks its
-- condition in its UPDATE or DELETE, so without the lock a row picked by two callers is changed by one:
-- the other waits for it, finds it changed and leaves it (and Citus runs one multi-shard change per shard
-- at a time anyway). The alias is quoted (%I): the clause is safe to format into dynamic SQL.
CREATE OR REPLACE FUNCTION challenge._row_lock(p_alias text)
RETURNS text
LANGUAGE sql
STABLE
AS $function$
    SELECT CASE WHEN challenge._distributed() THEN '' ELSE format('FOR UPDATE OF %I SKIP LOCKED', p_alias) END;
$function$;
