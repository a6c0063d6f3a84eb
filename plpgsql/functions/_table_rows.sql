-- challenge._table_rows(p_table regclass) RETURNS TABLE (row_count double precision, exact boolean)
--
-- Private, for challenge.status: a table's row count without a sequential scan of a large table. Up to
-- 1 MB (128 pages) the rows are counted (exact = true; a scan that small costs well under a millisecond).
-- Larger: the planner's own estimate, the row density of the last ANALYZE times the table's current size
-- (exact = false); NULL while a large table has never been analysed. On a distributed deployment
-- (challenge._distributed) a Citus table is measured on its shards instead: challenge._shard_stats.
CREATE OR REPLACE FUNCTION challenge._table_rows(p_table regclass)
RETURNS TABLE (row_count double precision, exact boolean)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_pages double precision := pg_relation_size(p_table) / current_setting('block_size')::double precision;
    v_reltuples double precision;
    v_relpages double precision;
    v_count bigint;
BEGIN
    -- On a Citus cluster a Citus table's rows are on its shards (the coordinator holds an empty shell):
    -- the same rule, applied to the shards' own sizes and statistics.
    IF challenge._distributed() THEN
        RETURN QUERY SELECT s.row_count, s.exact FROM challenge._shard_stats(ARRAY[p_table]) AS s;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    IF v_pages <= 128 THEN
        -- regclass's text form is the quoted, schema-qualified name.
        EXECUTE format('SELECT count(*) FROM %s', p_table) INTO v_count;
        RETURN QUERY SELECT v_count::double precision, true;
        RETURN;
    END IF;
    SELECT c.reltuples, c.relpages INTO v_reltuples, v_relpages FROM pg_catalog.pg_class AS c WHERE c.oid = p_table;
    RETURN QUERY SELECT
        CASE WHEN v_reltuples >= 0 AND v_relpages > 0 THEN round(v_reltuples / v_relpages * v_pages) END,
        false;
END;
$function$;
