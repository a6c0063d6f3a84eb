-- challenge._check_maintenance_args(p_retention interval, p_batch_size integer) RETURNS void
--
-- Private, shared by the maintenance functions. Raises CH003 invalid_argument unless p_retention is a
-- non-negative interval and p_batch_size an integer between 1 and 100000 (a bound on the rows one
-- call deletes, so that each call holds its locks briefly).
CREATE OR REPLACE FUNCTION challenge._check_maintenance_args(p_retention interval, p_batch_size integer)
RETURNS void
LANGUAGE plpgsql
-- VOLATILE (the default), not IMMUTABLE: a function that raises must never be folded at plan time.
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF p_retention IS NULL OR p_retention < interval '0' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: retention must be a non-negative interval, got %s',
                             coalesce(p_retention::text, 'NULL'));
    END IF;
    IF p_batch_size IS NULL OR p_batch_size NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: batch_size must be an integer between 1 and 100000, got %s',
                             coalesce(p_batch_size::text, 'NULL'));
    END IF;
END;
$function$;
