-- challenge.prune_ledger(p_older_than interval DEFAULT '90 days', p_batch_size integer DEFAULT 10000)
--     RETURNS bigint
--
-- Retention for the audit ledger. Drops every day partition whose whole day ended more than
-- p_older_than ago (a cheap drop, no row-by-row delete), then deletes up to p_batch_size rows older
-- than that from ledger_default (rows recorded on a day that had no partition yet). Returns the
-- number of partitions dropped plus the number of default rows deleted; call it until it returns 0.
-- Bad arguments raise CH003.
CREATE OR REPLACE FUNCTION challenge.prune_ledger(
    p_older_than interval DEFAULT '90 days',
    p_batch_size integer DEFAULT 10000
)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
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
        EXECUTE format('DROP TABLE challenge.%I', v_partition.relname);
        v_dropped := v_dropped + 1;
    END LOOP;

    WITH doomed AS (
        SELECT l.ctid AS row_tid
        FROM challenge.ledger_default AS l
        WHERE l.recorded_at < v_cutoff
        LIMIT p_batch_size
    ),
    gone AS (
        DELETE FROM challenge.ledger_default AS l
        USING doomed AS d
        WHERE l.ctid = d.row_tid
        RETURNING 1
    )
    SELECT count(*)
    INTO v_deleted
    FROM gone;
    RETURN v_dropped + v_deleted;
END;
$function$;
