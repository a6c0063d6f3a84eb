-- challenge.status()
--     RETURNS TABLE (metric text, labels jsonb, value double precision, exact boolean, help text)
--
-- The system's health for an operator (roles reader and admin), one row per metric and label set, named
-- and shaped for Prometheus (pgchallenge status --format prometheus prints them in its text format):
--   pgchallenge_outbox_grants{state}                  reward grants pending (waiting for a worker),
--                                                     leased (a worker holds them) and failed (given up)
--   pgchallenge_outbox_oldest_pending_age_seconds     age of the oldest claim still pending (0: none)
--   pgchallenge_remembered_event_ids                  event ids remembered for exactly-once writes
--   pgchallenge_remembered_event_ids_oldest_age_seconds
--   pgchallenge_ledger_enabled                        the ledger's switch (set_ledger): 1 on, 0 off
--   pgchallenge_ledger_partitions                     day partitions of the audit ledger
--   pgchallenge_ledger_rows, pgchallenge_ledger_bytes the ledger's rows and bytes, all partitions
--   pgchallenge_ledger_default_rows                   rows of days without a partition (run
--                                                     create_ledger_partitions ahead of time)
--   pgchallenge_ledger_oldest_day_timestamp_seconds   the first day the ledger keeps (Unix time, UTC)
--   pgchallenge_progress_rows{status}                 progress rows by status
--   pgchallenge_config_version{digest}                the current config's load number, growing with
--                                                     every load (0: never loaded)
--   pgchallenge_config_loaded_timestamp_seconds       when the current config was loaded
-- Cheap enough to call every few seconds on a large database: nothing scans a large table. The outbox
-- counts read partial indexes (pending and failed rows only); other counts read small tables exactly and
-- large ones from the planner's statistics (challenge._table_rows), and then say so: exact = false. A
-- value is NULL where a large table has never been analysed. Ages are measured from now().
-- On a Citus cluster (challenge._distributed) the coordinator holds only empty shells of the distributed
-- tables: their sizes and statistics come from the shards instead, in one round trip to the nodes
-- (challenge._shard_stats), with the same rule (up to 128 pages in all shards counted, larger estimated).
-- There a table's estimate sums each shard's, the progress rows by status sum each shard's estimate
-- times the status's frequency there, and the oldest remembered id of a large table is the least of the
-- shards' first histogram bounds and most common values; unknown (NULL, exact = false) while a non-empty
-- shard has never been analysed, or when a shard moved away during the call. Citus cannot run a statement
-- that joins the local catalog with a distributed table, so no statement here does: the catalog and the
-- shards are read into variables first, the tables are counted in statements of their own.
CREATE OR REPLACE FUNCTION challenge.status()
RETURNS TABLE (metric text, labels jsonb, value double precision, exact boolean, help text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_now timestamptz := now();
    -- Citus: challenge._shard_stats of the distributed tables below (a row as JSON), by table oid.
    v_shards jsonb := '{}';
    v_partitions regclass[];
    v_events jsonb;
    v_events_rows double precision;
    v_events_exact boolean;
    v_events_oldest timestamptz;
    v_events_known boolean;
    v_legacy jsonb;
    v_legacy_rows double precision;
    v_legacy_exact boolean;
    v_legacy_oldest timestamptz;
    v_ledger_enabled boolean := challenge._ledger_switch();
    v_progress jsonb;
    v_progress_rows double precision;
    v_progress_exact boolean;
    v_progress_counts jsonb;
BEGIN
    RETURN QUERY
    SELECT m.metric, m.labels, m.value, true, m.help
    FROM (
        SELECT
            count(*) FILTER (WHERE g.leased_until IS NULL OR g.leased_until <= v_now) AS waiting,
            count(*) FILTER (WHERE g.leased_until > v_now) AS leased,
            min(g.claimed_at) AS oldest
        FROM challenge.reward_grants AS g
        WHERE g.state = 'pending'
    ) AS o
    CROSS JOIN LATERAL (
        SELECT count(*) AS failed FROM challenge.reward_grants AS g WHERE g.state = 'failed'
    ) AS f
    CROSS JOIN LATERAL (
        VALUES
            ('pgchallenge_outbox_grants', '{"state": "pending"}'::jsonb, o.waiting::double precision,
             'Reward grants of the outbox by state: pending (waiting for a worker), leased, failed.'),
            ('pgchallenge_outbox_grants', '{"state": "leased"}'::jsonb, o.leased::double precision,
             'Reward grants of the outbox by state: pending (waiting for a worker), leased, failed.'),
            ('pgchallenge_outbox_grants', '{"state": "failed"}'::jsonb, f.failed::double precision,
             'Reward grants of the outbox by state: pending (waiting for a worker), leased, failed.'),
            ('pgchallenge_outbox_oldest_pending_age_seconds', '{}'::jsonb,
             coalesce(extract(epoch FROM v_now - o.oldest), 0)::double precision,
             'Age of the oldest claim whose reward grant is still pending (0 when none is).')
    ) AS m (metric, labels, value, help);

    IF challenge._distributed() THEN
        -- The ledger's partitions from the coordinator's catalog, then all the shards' statistics at once.
        SELECT array_agg(i.inhrelid::regclass) INTO v_partitions
        FROM pg_catalog.pg_inherits AS i
        WHERE i.inhparent = 'challenge.ledger'::regclass;
        SELECT coalesce(jsonb_object_agg(s.table_name::oid::text, to_jsonb(s)), '{}'::jsonb) INTO v_shards
        FROM challenge._shard_stats(
            ARRAY['challenge.processed_events', 'challenge.processed_events_legacy', 'challenge.progress']::regclass[]
                || coalesce(v_partitions, '{}'),
            ARRAY['processed_at', NULL, 'status']
        ) AS s;
    END IF;

    -- Remembered event ids. On a large table, the smallest value the last ANALYZE saw: the histogram
    -- leaves the most common values out (a batch of ids remembered in one transaction shares one
    -- processed_at), so both count. No statistics yet: unknown (NULL), not "none" (0).
    v_events := v_shards -> ('challenge.processed_events'::regclass::oid)::text;
    IF v_events IS NULL THEN
        SELECT r.row_count, r.exact INTO v_events_rows, v_events_exact
        FROM challenge._table_rows('challenge.processed_events') AS r;
    ELSE
        v_events_rows := (v_events ->> 'row_count')::double precision;
        v_events_exact := (v_events ->> 'exact')::boolean;
    END IF;
    v_legacy := v_shards -> ('challenge.processed_events_legacy'::regclass::oid)::text;
    IF v_legacy IS NULL THEN
        SELECT r.row_count, r.exact INTO v_legacy_rows, v_legacy_exact
        FROM challenge._table_rows('challenge.processed_events_legacy') AS r;
    ELSE
        v_legacy_rows := (v_legacy ->> 'row_count')::double precision;
        v_legacy_exact := (v_legacy ->> 'exact')::boolean;
    END IF;
    SELECT min(x.processed_at) INTO v_legacy_oldest FROM challenge.processed_events_legacy AS x;
    IF v_events_exact THEN
        -- A table _table_rows counted is small enough to read its minimum too.
        SELECT min(x.processed_at) INTO v_events_oldest FROM challenge.processed_events AS x;
        v_events_known := true;
    ELSIF v_events IS NULL THEN
        SELECT least(
            (s.histogram_bounds::text::timestamptz[])[1],
            (SELECT min(v) FROM unnest(s.most_common_vals::text::timestamptz[]) AS v)
        )
        INTO v_events_oldest
        FROM pg_catalog.pg_stats AS s
        WHERE s.schemaname = 'challenge' AND s.tablename = 'processed_events' AND s.attname = 'processed_at';
        v_events_known := FOUND;
    ELSE
        SELECT min(v.value::timestamptz) INTO v_events_oldest
        FROM jsonb_array_elements_text(v_events -> 'lowest_values') AS v (value);
        v_events_known := (v_events ->> 'analysed')::boolean;
    END IF;
    RETURN QUERY
    SELECT m.metric, '{}'::jsonb, m.value, m.exact, m.help
    FROM (
        VALUES
            ('pgchallenge_remembered_event_ids', v_events_rows + v_legacy_rows, v_events_exact AND v_legacy_exact,
             'Event ids remembered for exactly-once writes (prune_processed_events forgets old ones).'),
            ('pgchallenge_remembered_event_ids_oldest_age_seconds',
             CASE WHEN v_events_known THEN coalesce(
                 extract(epoch FROM v_now - least(v_legacy_oldest, v_events_oldest)), 0
             )::double precision END,
             v_events_exact,
             'Age of the oldest remembered event id (0 when none is); from the statistics on a large table.')
    ) AS m (metric, value, exact, help);

    -- The ledger: on PostgreSQL each partition measured by _table_rows, on Citus from its shards (a
    -- partition missing there counts as unknown).
    RETURN QUERY
    WITH listed AS (
        SELECT c.oid, c.relname
        FROM pg_catalog.pg_inherits AS i
        JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'challenge.ledger'::regclass
    ),
    measured AS (
        SELECT l.oid, l.relname, t.row_count, t.exact, pg_total_relation_size(l.oid) AS bytes
        FROM listed AS l
        CROSS JOIN LATERAL challenge._table_rows(l.oid::regclass) AS t
        WHERE v_shards = '{}'::jsonb
        UNION ALL
        SELECT
            l.oid, l.relname, (s.value ->> 'row_count')::double precision, (s.value ->> 'exact')::boolean,
            (s.value ->> 'bytes')::bigint
        FROM listed AS l
        CROSS JOIN LATERAL (SELECT v_shards -> l.oid::text) AS s (value)
        WHERE v_shards <> '{}'::jsonb
    ),
    partitions AS (
        SELECT
            m.oid,
            CASE WHEN m.relname ~ '^ledger_[0-9]{8}$' THEN to_date(substr(m.relname, 8), 'YYYYMMDD') END AS day,
            m.row_count,
            m.exact,
            m.bytes
        FROM measured AS m
    ),
    totals AS (
        -- A partition without an estimate makes its total unknown (NULL), not smaller.
        SELECT
            count(p.day) AS days,
            CASE WHEN bool_and(p.row_count IS NOT NULL) IS NOT FALSE THEN coalesce(sum(p.row_count), 0) END
                AS row_count,
            coalesce(bool_and(p.exact AND p.row_count IS NOT NULL), true) AS exact,
            CASE WHEN v_shards = '{}'::jsonb OR bool_and(p.bytes IS NOT NULL) IS NOT FALSE
                THEN coalesce(sum(p.bytes), 0) END AS bytes,
            v_shards = '{}'::jsonb OR bool_and(p.bytes IS NOT NULL) IS NOT FALSE AS bytes_exact,
            min(p.day) AS oldest_day,
            CASE WHEN bool_and(p.row_count IS NOT NULL) FILTER (WHERE p.day IS NULL) IS NOT FALSE
                THEN coalesce(sum(p.row_count) FILTER (WHERE p.day IS NULL), 0) END AS default_rows,
            coalesce(bool_and(p.exact AND p.row_count IS NOT NULL) FILTER (WHERE p.day IS NULL), true)
                AS default_exact
        FROM partitions AS p
    )
    SELECT m.metric, '{}'::jsonb, m.value, m.exact, m.help
    FROM totals AS t
    CROSS JOIN LATERAL (
        VALUES
            ('pgchallenge_ledger_enabled',
             CASE WHEN v_ledger_enabled THEN 1 ELSE 0 END::double precision, true,
             'The audit ledger''s switch (set_ledger): 1 on, 0 off (the setting pgchallenge.ledger = on still records).'),
            ('pgchallenge_ledger_partitions', t.days::double precision, true,
             'Day partitions of the audit ledger (create_ledger_partitions adds them, prune_ledger drops them).'),
            ('pgchallenge_ledger_rows', t.row_count, t.exact,
             'Rows of the audit ledger, all partitions.'),
            ('pgchallenge_ledger_default_rows', t.default_rows, t.default_exact,
             'Ledger rows of days without a partition of their own (create ledger partitions ahead of time).'),
            ('pgchallenge_ledger_bytes', t.bytes::double precision, t.bytes_exact,
             'Bytes of the audit ledger on disk, indexes included.'),
            ('pgchallenge_ledger_oldest_day_timestamp_seconds',
             extract(epoch FROM t.oldest_day::timestamp AT TIME ZONE 'UTC')::double precision, true,
             'Start of the first day the audit ledger keeps, Unix time (none: no day partition).')
    ) AS m (metric, value, exact, help);

    -- Progress rows by status: counted on a small table (a statement of its own), else estimated from
    -- the most common values (on Citus, each shard's, already weighed by _shard_stats).
    v_progress := v_shards -> ('challenge.progress'::regclass::oid)::text;
    IF v_progress IS NULL THEN
        SELECT r.row_count, r.exact INTO v_progress_rows, v_progress_exact
        FROM challenge._table_rows('challenge.progress') AS r;
    ELSE
        v_progress_rows := (v_progress ->> 'row_count')::double precision;
        v_progress_exact := (v_progress ->> 'exact')::boolean;
    END IF;
    IF v_progress_exact THEN
        SELECT jsonb_object_agg(c.status, c.rows_now) INTO v_progress_counts
        FROM (
            SELECT p.status, count(*) AS rows_now
            FROM challenge.progress AS p
            GROUP BY p.status
        ) AS c;
    END IF;
    RETURN QUERY
    SELECT
        'pgchallenge_progress_rows',
        jsonb_build_object('status', s.status),
        CASE WHEN v_progress_exact THEN coalesce((v_progress_counts ->> s.status)::double precision, 0)
             WHEN v_progress IS NOT NULL THEN CASE WHEN v_progress_rows IS NOT NULL
                 THEN round(coalesce((v_progress -> 'common_rows' ->> s.status)::double precision, 0)) END
             ELSE round(v_progress_rows * coalesce(st.freq, 0)) END,
        v_progress_exact,
        'Progress rows by status (not_started, in_progress, completed, claimed).'
    FROM unnest(ARRAY['not_started', 'in_progress', 'completed', 'claimed']) WITH ORDINALITY AS s (status, ord)
    LEFT JOIN LATERAL (
        SELECT v.freq
        FROM pg_catalog.pg_stats AS ps
        CROSS JOIN LATERAL unnest(ps.most_common_vals::text::text[], ps.most_common_freqs) AS v (val, freq)
        WHERE NOT v_progress_exact AND v_progress IS NULL
            AND ps.schemaname = 'challenge' AND ps.tablename = 'progress' AND ps.attname = 'status'
            AND v.val = s.status
    ) AS st ON true
    ORDER BY s.ord;

    RETURN QUERY
    SELECT m.metric, m.labels, m.value, true, m.help
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT l.version, l.loaded_at, l.digest
        FROM challenge.config_loads AS l
        ORDER BY l.version DESC
        LIMIT 1
    ) AS c ON true
    CROSS JOIN LATERAL (
        VALUES
            ('pgchallenge_config_version',
             CASE WHEN c.digest IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('digest', c.digest) END,
             coalesce(c.version, 0)::double precision,
             'Load number of the current challenge config, growing with every load (0: never loaded); digest: its SHA-256.'),
            ('pgchallenge_config_loaded_timestamp_seconds', '{}'::jsonb,
             extract(epoch FROM c.loaded_at)::double precision,
             'When the current challenge config was loaded, Unix time.')
    ) AS m (metric, labels, value, help);
END;
$function$;
