-- challenge.acquire_source(p_source text, p_partition text DEFAULT '')
--     RETURNS TABLE (epoch bigint, position bigint)
--
-- Takes over (p_source, p_partition) for a consumer of an ordered source: raises the partition's epoch
-- by one (from 1 on first use) and returns it with the position to resume after (the highest applied;
-- NULL when nothing was applied yet). Pass the epoch to every record_events call for the partition: from
-- then on, a consumer still holding an older epoch is fenced off (CH030 source_fenced) instead of
-- applying events twice or out of order. Waits for a call in flight on the partition to finish. Bad
-- arguments raise CH003.
--   SELECT * FROM challenge.acquire_source('game-events', '3');
--   --  epoch | position
--   --      2 |    41877
CREATE OR REPLACE FUNCTION challenge.acquire_source(p_source text, p_partition text DEFAULT '')
RETURNS TABLE (epoch bigint, "position" bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM challenge._check_source(p_source, p_partition);
    RETURN QUERY
    INSERT INTO challenge.source_positions AS s (source, partition, position, epoch, updated_at)
    VALUES (p_source, p_partition, -1, 1, clock_timestamp())
    ON CONFLICT (source, partition) DO UPDATE
    SET epoch = s.epoch + 1,
        updated_at = excluded.updated_at
    RETURNING s.epoch, nullif(s.position, -1);
END;
$function$;
