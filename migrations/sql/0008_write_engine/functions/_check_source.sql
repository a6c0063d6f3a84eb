-- challenge._check_source(p_source text, p_partition text) RETURNS void
--
-- Private. Raises CH003 naming the argument when a source name (1..200 characters) or a partition
-- name (0..200 characters, '' for a source with one partition) is malformed.
CREATE OR REPLACE FUNCTION challenge._check_source(p_source text, p_partition text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF p_source IS NULL OR length(p_source) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = 'invalid argument: source must be a string of 1 to 200 characters';
    END IF;
    IF p_partition IS NULL OR length(p_partition) > 200 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = 'invalid argument: partition must be a string of at most 200 characters (not NULL)';
    END IF;
END;
$function$;
