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
CREATE OR REPLACE FUNCTION challenge.status()
RETURNS TABLE (metric text, labels jsonb, value double precision, exact boolean, help text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_now timestamptz := now();
    v_progress_rows double precision;
    v_progress_exact boolean;
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

    RETURN QUERY
    SELECT
        m.metric, '{}'::jsonb, m.value, m.exact, m.help
    FROM challenge._table_rows('challenge.processed_events') AS e
    CROSS JOIN challenge._table_rows('challenge.processed_events_legacy') AS l
    -- On a large table, the smallest value the last ANALYZE saw: the histogram leaves the most common
    -- values out (a batch of ids remembered in one transaction shares one processed_at), so both count.
    -- No statistics yet: unknown (NULL), not "none" (0).
    CROSS JOIN LATERAL (
        SELECT
            (SELECT min(x.processed_at) FROM challenge.processed_events_legacy AS x) AS legacy_oldest,
            -- A table _table_rows counted is small enough to read its minimum too.
            CASE WHEN e.exact
                THEN (SELECT min(x.processed_at) FROM challenge.processed_events AS x)
                ELSE (
                    SELECT least(
                        (s.histogram_bounds::text::timestamptz[])[1],
                        (SELECT min(v) FROM unnest(s.most_common_vals::text::timestamptz[]) AS v)
                    )
                    FROM pg_catalog.pg_stats AS s
                    WHERE s.schemaname = 'challenge' AND s.tablename = 'processed_events'
                        AND s.attname = 'processed_at'
                )
            END AS oldest,
            NOT e.exact AND NOT EXISTS (
                SELECT FROM pg_catalog.pg_stats AS s
                WHERE s.schemaname = 'challenge' AND s.tablename = 'processed_events'
                    AND s.attname = 'processed_at'
            ) AS unknown
    ) AS a
    CROSS JOIN LATERAL (
        VALUES
            ('pgchallenge_remembered_event_ids', e.row_count + l.row_count, e.exact AND l.exact,
             'Event ids remembered for exactly-once writes (prune_processed_events forgets old ones).'),
            ('pgchallenge_remembered_event_ids_oldest_age_seconds',
             CASE WHEN NOT a.unknown THEN coalesce(
                 extract(epoch FROM v_now - least(a.legacy_oldest, a.oldest)), 0
             )::double precision END,
             e.exact,
             'Age of the oldest remembered event id (0 when none is); from the statistics on a large table.')
    ) AS m (metric, value, exact, help);

    RETURN QUERY
    WITH partitions AS (
        SELECT
            c.oid,
            c.relname,
            CASE WHEN c.relname ~ '^ledger_[0-9]{8}$' THEN to_date(substr(c.relname, 8), 'YYYYMMDD') END AS day,
            t.row_count,
            t.exact
        FROM pg_catalog.pg_inherits AS i
        JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
        CROSS JOIN LATERAL challenge._table_rows(c.oid::regclass) AS t
        WHERE i.inhparent = 'challenge.ledger'::regclass
    ),
    totals AS (
        -- A partition without an estimate makes its total unknown (NULL), not smaller.
        SELECT
            count(p.day) AS days,
            CASE WHEN bool_and(p.row_count IS NOT NULL) IS NOT FALSE THEN coalesce(sum(p.row_count), 0) END
                AS row_count,
            coalesce(bool_and(p.exact AND p.row_count IS NOT NULL), true) AS exact,
            coalesce(sum(pg_total_relation_size(p.oid)), 0) AS bytes,
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
             CASE WHEN challenge._ledger_switch() THEN 1 ELSE 0 END::double precision, true,
             'The audit ledger''s switch (set_ledger): 1 on, 0 off (the setting pgchallenge.ledger = on still records).'),
            ('pgchallenge_ledger_partitions', t.days::double precision, true,
             'Day partitions of the audit ledger (create_ledger_partitions adds them, prune_ledger drops them).'),
            ('pgchallenge_ledger_rows', t.row_count, t.exact,
             'Rows of the audit ledger, all partitions.'),
            ('pgchallenge_ledger_default_rows', t.default_rows, t.default_exact,
             'Ledger rows of days without a partition of their own (create ledger partitions ahead of time).'),
            ('pgchallenge_ledger_bytes', t.bytes::double precision, true,
             'Bytes of the audit ledger on disk, indexes included.'),
            ('pgchallenge_ledger_oldest_day_timestamp_seconds',
             extract(epoch FROM t.oldest_day::timestamp AT TIME ZONE 'UTC')::double precision, true,
             'Start of the first day the audit ledger keeps, Unix time (none: no day partition).')
    ) AS m (metric, value, exact, help);

    SELECT r.row_count, r.exact INTO v_progress_rows, v_progress_exact
    FROM challenge._table_rows('challenge.progress') AS r;
    RETURN QUERY
    SELECT
        'pgchallenge_progress_rows',
        jsonb_build_object('status', s.status),
        CASE WHEN v_progress_exact THEN coalesce(c.rows_now, 0)::double precision
             ELSE round(v_progress_rows * coalesce(st.freq, 0)) END,
        v_progress_exact,
        'Progress rows by status (not_started, in_progress, completed, claimed).'
    FROM unnest(ARRAY['not_started', 'in_progress', 'completed', 'claimed']) WITH ORDINALITY AS s (status, ord)
    LEFT JOIN (
        SELECT p.status, count(*) AS rows_now
        FROM challenge.progress AS p
        WHERE v_progress_exact
        GROUP BY p.status
    ) AS c ON c.status = s.status
    LEFT JOIN LATERAL (
        SELECT v.freq
        FROM pg_catalog.pg_stats AS ps
        CROSS JOIN LATERAL unnest(ps.most_common_vals::text::text[], ps.most_common_freqs) AS v (val, freq)
        WHERE NOT v_progress_exact
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
