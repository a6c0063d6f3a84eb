-- challenge.prune_ledger(p_older_than interval DEFAULT '90 days', p_batch_size integer DEFAULT 10000)
--     RETURNS bigint
--
-- Retention for the audit ledger. Drops every day partition whose whole day ended more than
-- p_older_than ago (a cheap drop, no row-by-row delete), then deletes up to p_batch_size rows older
-- than that from ledger_default (rows recorded on a day that had no partition yet). Returns the
-- number of partitions dropped plus the number of default rows deleted; call it until it returns
-- less than p_batch_size. Bad arguments raise CH003.
--
-- Dropping a partition needs an ACCESS EXCLUSIVE lock on the whole ledger, which waits for every open
-- transaction that wrote to it and holds up the writers queued behind it meanwhile. So each drop waits
-- at most 200 ms (lock_timeout); a partition it could not lock is left for the next call, with a
-- NOTICE, rather than stalling the writers.
CREATE OR REPLACE FUNCTION challenge.prune_ledger(
    p_older_than interval DEFAULT '90 days',
    p_batch_size integer DEFAULT 10000
)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '200ms'
AS $function$
DECLARE
    v_cutoff timestamptz;
    v_dropped bigint := 0;
    v_deleted bigint;
    v_partition record;
BEGIN
    PERFORM challenge._check_maintenance_args(p_older_than, p_batch_size);
    v_cutoff := clock_timestamp() - p_older_than;
    PERFORM pg_advisory_xact_lock(hashtext('challenge.create_ledger_partitions'));

    FOR v_partition IN
        SELECT c.relname
        FROM pg_inherits AS i
        JOIN pg_class AS c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'challenge.ledger'::regclass
            AND c.relname ~ '^ledger_[0-9]{8}$'
            -- The partition's range ends at the start of the next day.
            AND (to_date(substr(c.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= v_cutoff
        ORDER BY c.relname
    LOOP
        BEGIN
            EXECUTE format('DROP TABLE challenge.%I', v_partition.relname);
            v_dropped := v_dropped + 1;
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'challenge.% is busy (writers hold the ledger); it will be dropped by a later call',
                v_partition.relname;
        END;
    END LOOP;

    WITH doomed AS (
        SELECT l.user_id, l.goal_id, l.change_id
        FROM challenge.ledger_default AS l
        WHERE l.recorded_at < v_cutoff
        LIMIT p_batch_size
    ),
    gone AS (
        DELETE FROM challenge.ledger_default AS l
        USING doomed AS d
        -- By the row's key (ledger_row_idx), not by row address.
        WHERE l.user_id = d.user_id
            AND l.goal_id = d.goal_id
            AND l.change_id = d.change_id
        RETURNING 1
    )
    SELECT count(*)
    INTO v_deleted
    FROM gone;
    RETURN v_dropped + v_deleted;
END;
$function$;
