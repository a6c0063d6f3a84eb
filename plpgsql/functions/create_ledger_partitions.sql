-- challenge.create_ledger_partitions(p_days_ahead integer DEFAULT 7) RETURNS integer
--
-- Makes sure the audit ledger has one partition for each UTC day from today to p_days_ahead days
-- ahead (0..366) and returns how many it created. Rows already recorded in ledger_default for such a
-- day move into the new partition, in this transaction. Run it daily (pgchallenge maintain does),
-- so that the ledger's rows land in day partitions and prune_ledger can drop whole days. Idempotent;
-- bad arguments raise CH003. Partitions are named challenge.ledger_YYYYMMDD. Writers keep writing
-- meanwhile (attaching locks the ledger in SHARE UPDATE EXCLUSIVE mode, which they do not conflict
-- with); only writes into ledger_default wait for this call, and it waits for theirs at most
-- lock_timeout (5 s), else it fails and changes nothing: run it again.
CREATE OR REPLACE FUNCTION challenge.create_ledger_partitions(p_days_ahead integer DEFAULT 7)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $function$
DECLARE
    v_today date := (clock_timestamp() AT TIME ZONE 'UTC')::date;
    v_day date;
    v_name text;
    v_from timestamptz;
    v_to timestamptz;
    v_created integer := 0;
BEGIN
    IF p_days_ahead IS NULL OR p_days_ahead NOT BETWEEN 0 AND 366 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: days_ahead must be an integer between 0 and 366, got %s',
                             coalesce(p_days_ahead::text, 'NULL'));
    END IF;
    -- One maintenance run at a time: two would race to create the same partition.
    PERFORM pg_advisory_xact_lock(hashtext('challenge.create_ledger_partitions'));
    -- Writers still inserting into the default partition would leave rows behind the move below (an
    -- uncommitted row is invisible to it) and make the attach fail: wait for them, and hold new ones
    -- off until this transaction ends. Writers into existing day partitions are not affected.
    LOCK TABLE challenge.ledger_default IN SHARE ROW EXCLUSIVE MODE;

    FOR v_offset IN 0 .. p_days_ahead LOOP
        v_day := v_today + v_offset;
        v_name := 'ledger_' || to_char(v_day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(format('challenge.%I', v_name)) IS NOT NULL;
        v_from := v_day::timestamp AT TIME ZONE 'UTC';
        v_to := (v_day + 1)::timestamp AT TIME ZONE 'UTC';
        -- Create it detached, move the day's rows out of the default partition into it, then attach:
        -- attaching checks that the default partition holds no row of the new range.
        EXECUTE format(
            'CREATE TABLE challenge.%I (LIKE challenge.ledger INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
            v_name
        );
        EXECUTE format(
            'WITH moved AS (DELETE FROM challenge.ledger_default WHERE recorded_at >= $1 AND recorded_at < $2'
                || ' RETURNING *) INSERT INTO challenge.%I SELECT * FROM moved',
            v_name
        ) USING v_from, v_to;
        EXECUTE format(
            'ALTER TABLE challenge.ledger ATTACH PARTITION challenge.%I FOR VALUES FROM (%L) TO (%L)',
            v_name, v_from, v_to
        );
        v_created := v_created + 1;
    END LOOP;
    RETURN v_created;
END;
$function$;
