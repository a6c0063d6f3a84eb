-- challenge._shard_stats(p_tables regclass[], p_columns text[] DEFAULT NULL)
--     RETURNS TABLE (table_name regclass, row_count double precision, exact boolean, bytes bigint,
--                    analysed boolean, common_rows jsonb, lowest_values jsonb)
--
-- Private, for challenge.status and challenge._table_rows on a Citus cluster (call it only where
-- challenge._distributed() is true: it reads Citus's catalog): what challenge._table_rows says of a plain
-- table, for the Citus tables among p_tables (one row each; the others are left out), read from their
-- shards. The coordinator holds only an empty shell of such a table, so its size, pg_class and pg_stats
-- there say nothing, and counting it would scan every shard. Instead one statement per node
-- (run_command_on_all_nodes: one round trip for all the tables) reads each shard's own size, reltuples,
-- relpages and the pg_stats row of p_columns[i] (the column of p_tables[i], if any) on the node that
-- holds it (one placement per shard).
--   row_count, exact  up to 128 pages in all shards: counted (count(*) across the shards, exact = true;
--                     0 without a count when no shard has a page);
--                     larger: the sum over the shards of each one's analysed row density times its
--                     current size (exact = false), NULL while a non-empty shard was never analysed
--   bytes             the shards' bytes on disk, indexes included
--   analysed          every non-empty shard has statistics of the column (and one shard at least)
--   common_rows       the column's most common values, each with its estimated rows (a shard's estimate
--                     times the value's frequency there, summed over the shards); NULL with row_count
--   lowest_values     candidates for the smallest value the last ANALYZE saw: each shard's first
--                     histogram bound and its most common values, as JSON (the caller casts them to the
--                     column's type and takes the least: their text order is not the type's)
-- A shard the nodes no longer report (moved meanwhile) makes its table unknown: row_count, bytes NULL,
-- exact and analysed false. A node's error is raised.
CREATE OR REPLACE FUNCTION challenge._shard_stats(p_tables regclass[], p_columns text[] DEFAULT NULL)
RETURNS TABLE (
    table_name regclass,
    row_count double precision,
    exact boolean,
    bytes bigint,
    analysed boolean,
    common_rows jsonb,
    lowest_values jsonb
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_placements jsonb;
    v_command text;
    v_shards jsonb;
    v_failure text;
    v_counts jsonb := '{}';
    v_table regclass;
    v_empty boolean;
    v_count bigint;
BEGIN
    -- Each shard of the Citus tables asked for, with one active placement: the node group holding it.
    EXECUTE format(
        'SELECT coalesce(jsonb_agg(jsonb_build_object('
            || '    ''table_oid'', x.logicalrelid::oid, ''shard_id'', x.shardid,'
            || '    ''shard_name'', pg_catalog.shard_name(x.logicalrelid, x.shardid),'
            || '    ''group_id'', x.groupid, ''column_name'', x.column_name)), ''[]'')'
            || ' FROM ('
            || '    SELECT DISTINCT ON (s.shardid) s.logicalrelid, s.shardid, p.groupid, t.column_name'
            || '    FROM unnest($1, $2) AS t (table_name, column_name)'
            || '    JOIN pg_catalog.pg_dist_shard AS s ON s.logicalrelid = t.table_name'
            || '    JOIN pg_catalog.pg_dist_placement AS p ON p.shardid = s.shardid AND p.shardstate = 1'
            || '    ORDER BY s.shardid, p.groupid'
            || ' ) AS x'
    ) INTO v_placements USING p_tables, p_columns;
    IF v_placements = '[]'::jsonb THEN
        RETURN;
    END IF;

    -- Every node reads the shards of its own group. Shard names are unique, so the name is enough to find
    -- a shard's statistics.
    v_command := format(
        $node$
        SELECT coalesce(json_agg(json_build_object(
            'shard_id', x.shard_id,
            'pages', pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::float8,
            'bytes', pg_catalog.pg_total_relation_size(c.oid),
            'reltuples', c.reltuples,
            'relpages', c.relpages,
            'analysed', s.attname IS NOT NULL,
            'most_common_vals', pg_catalog.array_to_json(s.most_common_vals),
            'most_common_freqs', pg_catalog.array_to_json(s.most_common_freqs),
            'first_bound', pg_catalog.array_to_json(s.histogram_bounds) -> 0
        )), '[]')
        FROM pg_catalog.json_to_recordset(%L) AS x (shard_id bigint, shard_name text, group_id integer,
                                                     column_name text)
        JOIN pg_catalog.pg_class AS c ON c.oid = pg_catalog.to_regclass(x.shard_name)
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        LEFT JOIN LATERAL (
            SELECT s.attname, s.most_common_vals, s.most_common_freqs, s.histogram_bounds
            FROM pg_catalog.pg_stats AS s
            WHERE s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = x.column_name
                AND NOT s.inherited
            LIMIT 1  -- a subquery per shard, not a join with the whole view: an index lookup each
        ) AS s ON true
        WHERE x.group_id = (SELECT g.groupid FROM pg_catalog.pg_dist_local_group AS g)
        $node$,
        v_placements::text
    );
    EXECUTE format(
        'SELECT coalesce(jsonb_agg(e.shard) FILTER (WHERE e.shard IS NOT NULL), ''[]''),'
            || '    string_agg(''node '' || r.nodeid || '': '' || r.result, ''; '') FILTER (WHERE NOT r.success)'
            || ' FROM pg_catalog.run_command_on_all_nodes(%L) AS r'
            || ' LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN r.success THEN r.result::jsonb END) AS e (shard)'
            || '    ON true',
        v_command
    ) INTO v_shards, v_failure;
    IF v_failure IS NOT NULL THEN
        RAISE EXCEPTION 'challenge._shard_stats: a node could not read its shards: %', v_failure;
    END IF;

    -- A table of 128 pages at most, all shards together, is counted, as challenge._table_rows counts a
    -- small plain table; each count is a statement of its own (a distributed table alone). Without a
    -- page in any shard (a day partition not yet reached) it has no row to count.
    FOR v_table, v_empty IN
        SELECT p.table_oid::regclass, sum(f.pages) = 0
        FROM jsonb_to_recordset(v_placements) AS p (table_oid oid, shard_id bigint)
        LEFT JOIN jsonb_to_recordset(v_shards) AS f (shard_id bigint, pages double precision)
            ON f.shard_id = p.shard_id
        GROUP BY p.table_oid
        HAVING bool_and(f.shard_id IS NOT NULL) AND sum(f.pages) <= 128
    LOOP
        IF v_empty THEN
            v_count := 0;
        ELSE
            -- regclass's text form is the quoted, schema-qualified name.
            EXECUTE format('SELECT count(*) FROM %s', v_table) INTO v_count;
        END IF;
        v_counts := v_counts || jsonb_build_object(v_table::oid::text, v_count);
    END LOOP;

    RETURN QUERY
    WITH shards AS (
        SELECT
            p.table_oid,
            f.shard_id IS NOT NULL AS found,
            f.pages,
            f.bytes,
            coalesce(f.analysed, false) AS analysed,
            f.most_common_vals,
            f.most_common_freqs,
            nullif(f.first_bound, 'null'::jsonb) AS first_bound,
            CASE WHEN f.pages = 0 THEN 0::double precision
                 WHEN f.reltuples >= 0 AND f.relpages > 0 THEN f.reltuples / f.relpages * f.pages END
                AS estimate
        FROM jsonb_to_recordset(v_placements) AS p (table_oid oid, shard_id bigint)
        LEFT JOIN jsonb_to_recordset(v_shards) AS f (
            shard_id bigint, pages double precision, bytes bigint, reltuples double precision,
            relpages double precision, analysed boolean, most_common_vals jsonb, most_common_freqs jsonb,
            first_bound jsonb
        ) ON f.shard_id = p.shard_id
    ),
    tables AS (
        SELECT
            s.table_oid,
            bool_and(s.found) AS complete,
            sum(s.bytes)::bigint AS bytes,
            CASE WHEN bool_and(s.estimate IS NOT NULL) THEN round(sum(s.estimate)) END AS estimate,
            bool_and(s.analysed OR s.pages = 0) AND bool_or(s.analysed) AS analysed
        FROM shards AS s
        GROUP BY s.table_oid
    )
    SELECT
        t.table_oid::regclass,
        CASE WHEN v_counts ? t.table_oid::text THEN (v_counts ->> t.table_oid::text)::double precision
             WHEN t.complete THEN t.estimate END,
        v_counts ? t.table_oid::text,
        CASE WHEN t.complete THEN t.bytes END,
        t.complete AND t.analysed,
        CASE WHEN t.complete AND t.estimate IS NOT NULL THEN (
            SELECT coalesce(jsonb_object_agg(c.value, c.estimate), '{}'::jsonb)
            FROM (
                SELECT m.value, sum(s.estimate * m.freq) AS estimate
                FROM shards AS s
                CROSS JOIN LATERAL (
                    SELECT v.value, f.value::double precision AS freq
                    FROM jsonb_array_elements_text(s.most_common_vals) WITH ORDINALITY AS v (value, n)
                    JOIN jsonb_array_elements_text(s.most_common_freqs) WITH ORDINALITY AS f (value, n)
                        ON f.n = v.n
                ) AS m
                WHERE s.table_oid = t.table_oid
                GROUP BY m.value
            ) AS c
        ) END,
        (
            SELECT coalesce(jsonb_agg(l.value), '[]'::jsonb)
            FROM shards AS s
            CROSS JOIN LATERAL (
                SELECT s.first_bound WHERE s.first_bound IS NOT NULL
                UNION ALL
                SELECT v.value FROM jsonb_array_elements(s.most_common_vals) AS v (value)
            ) AS l (value)
            WHERE s.table_oid = t.table_oid
        )
    FROM tables AS t;
END;
$function$;
