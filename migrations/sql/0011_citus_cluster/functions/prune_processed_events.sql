-- challenge.prune_processed_events(p_older_than interval DEFAULT '7 days', p_batch_size integer
--     DEFAULT 10000) RETURNS bigint
--
-- Forgets up to p_batch_size remembered event ids recorded more than p_older_than ago and returns how
-- many (no order is promised within the batch: the ids live in a table summarised by a BRIN index,
-- not a B-tree, so remembering an id costs the writes less). This sets the dedup window: an event redelivered within p_older_than of its
-- first delivery is still reported duplicate_event; one redelivered later would count again. Call it
-- until it returns less than p_batch_size (pgchallenge maintain does). Ids locked by a writer that is
-- inserting them right now are skipped (SKIP LOCKED). Bad arguments raise CH003.
CREATE OR REPLACE FUNCTION challenge.prune_processed_events(
    p_older_than interval DEFAULT '7 days',
    p_batch_size integer DEFAULT 10000
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_deleted bigint;
    v_deleted_now bigint;
BEGIN
    PERFORM challenge._check_maintenance_args(p_older_than, p_batch_size);

    -- Ids remembered before revision 0008 (no player) go first; until they are gone every write
    -- consults them.
    WITH doomed AS (
        SELECT e.event_id
        FROM challenge.processed_events_legacy AS e
        WHERE e.processed_at < clock_timestamp() - p_older_than
        LIMIT p_batch_size
        FOR UPDATE OF e SKIP LOCKED
    )
    DELETE FROM challenge.processed_events_legacy AS e
    USING doomed AS d
    WHERE e.event_id = d.event_id;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;

    -- The BRIN summary of processed_at finds the old pages; rows are deleted by key. Dynamic SQL for the
    -- row-lock clause only (challenge._row_lock: none on a Citus cluster); an id, once remembered, is
    -- never changed, so there is nothing to re-check.
    EXECUTE format(
        $statement$
        WITH doomed AS (
            SELECT e.user_id, e.event_id
            FROM challenge.processed_events AS e
            WHERE e.processed_at < $1
            LIMIT $2
            %s
        ),
        gone AS (
            DELETE FROM challenge.processed_events AS e
            USING doomed AS d
            WHERE e.user_id = d.user_id
                AND e.event_id = d.event_id
            RETURNING 1
        )
        SELECT count(*) FROM gone
        $statement$,
        challenge._row_lock('e')
    )
    INTO v_deleted_now
    USING clock_timestamp() - p_older_than, p_batch_size - v_deleted;
    v_deleted := v_deleted + v_deleted_now;
    RETURN v_deleted;
END;
$function$;
