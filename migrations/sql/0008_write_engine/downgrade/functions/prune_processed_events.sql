-- challenge.prune_processed_events(p_older_than interval DEFAULT '7 days', p_batch_size integer
--     DEFAULT 10000) RETURNS bigint
--
-- Forgets up to p_batch_size remembered event ids recorded more than p_older_than ago (oldest first)
-- and returns how many. This sets the dedup window: an event redelivered within p_older_than of its
-- first delivery is still reported duplicate_event; one redelivered later would count again. Call it
-- until it returns less than p_batch_size (pgchallenge maintain does). Ids locked by a writer that is
-- inserting them right now are skipped (SKIP LOCKED). Bad arguments raise CH003.
CREATE OR REPLACE FUNCTION challenge.prune_processed_events(
    p_older_than interval DEFAULT '7 days',
    p_batch_size integer DEFAULT 10000
)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_deleted bigint;
BEGIN
    PERFORM challenge._check_maintenance_args(p_older_than, p_batch_size);

    WITH doomed AS (
        SELECT e.ctid AS row_tid
        FROM challenge.processed_events AS e
        WHERE e.processed_at < clock_timestamp() - p_older_than
        ORDER BY e.processed_at
        LIMIT p_batch_size
        FOR UPDATE OF e SKIP LOCKED
    ),
    gone AS (
        DELETE FROM challenge.processed_events AS e
        USING doomed AS d
        WHERE e.ctid = d.row_tid
        RETURNING 1
    )
    SELECT count(*)
    INTO v_deleted
    FROM gone;
    RETURN v_deleted;
END;
$function$;
