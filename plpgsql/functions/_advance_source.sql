-- challenge._advance_source(p_source text, p_partition text, p_epoch bigint, p_last_position bigint)
--     RETURNS bigint
--
-- Private, for record_events by source position. Locks the watermark row of (p_source, p_partition)
-- (creating it on first use), fences off an older consumer, advances the watermark to p_last_position
-- when that is higher, and returns the watermark as it was (NULL: nothing from this partition applied
-- yet). Events at or below it are duplicates. The row lock is held to the end of the transaction, so
-- the effects and the watermark commit together, and two consumers of one partition take turns; it is
-- taken before any progress row, so it adds no deadlock.
-- Epochs: a call with an epoch below the partition's raises CH030 source_fenced (the consumer lost the
-- partition to one that called acquire_source, or sent a higher epoch, after it); a higher epoch takes
-- the partition over. Bad arguments raise CH003.
CREATE OR REPLACE FUNCTION challenge._advance_source(
    p_source text,
    p_partition text,
    p_epoch bigint,
    p_last_position bigint
)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_position bigint;
    v_epoch bigint;
    v_now timestamptz;
BEGIN
    PERFORM challenge._check_source(p_source, p_partition);
    IF p_epoch IS NULL OR p_epoch < 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: epoch must be a non-negative integer, got %s',
                             coalesce(p_epoch::text, 'NULL'));
    END IF;

    INSERT INTO challenge.source_positions AS s (source, partition, position, epoch, updated_at)
    VALUES (p_source, p_partition, -1, p_epoch, clock_timestamp())
    ON CONFLICT (source, partition) DO NOTHING;

    SELECT s.position, s.epoch
    INTO v_position, v_epoch
    FROM challenge.source_positions AS s
    WHERE s.source = p_source
        AND s.partition = p_partition
    FOR UPDATE;

    IF p_epoch < v_epoch THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH030',
            MESSAGE = format('source fenced: %s partition %s is held by epoch %s, this call has epoch %s',
                             quote_literal(p_source), quote_literal(p_partition), v_epoch, p_epoch),
            HINT = 'Nothing was applied. Another consumer took the partition over: stop consuming it, or '
                || 'call challenge.acquire_source to take it back and resume from the position it returns.';
    END IF;

    IF p_epoch > v_epoch OR p_last_position > v_position THEN
        -- The time after the lock wait, in a variable: Citus refuses a VOLATILE call in an UPDATE.
        v_now := clock_timestamp();
        UPDATE challenge.source_positions AS s
        SET position = greatest(s.position, coalesce(p_last_position, s.position)),
            epoch = p_epoch,
            updated_at = v_now
        WHERE s.source = p_source
            AND s.partition = p_partition;
    END IF;
    RETURN nullif(v_position, -1);
END;
$function$;
