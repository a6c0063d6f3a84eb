-- challenge._config_error(p_path text, p_problem text) RETURNS void
--
-- Private. Raises CH001 invalid_config naming the JSON path of the first problem found by load_config.
CREATE OR REPLACE FUNCTION challenge._config_error(p_path text, p_problem text)
RETURNS void
LANGUAGE plpgsql
-- VOLATILE (the default), not IMMUTABLE: a function that raises must never be folded at plan time.
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'CH001',
        MESSAGE = format('invalid config: %s %s', p_path, p_problem),
        DETAIL = format('At %s.', p_path),
        HINT = 'Nothing was loaded; fix the document and load it again.';
END;
$function$;
