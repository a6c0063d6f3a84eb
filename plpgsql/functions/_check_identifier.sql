-- challenge._check_identifier(p_name text, p_value text) RETURNS void
--
-- Private. Raises CH003 invalid_argument unless p_value is an identifier of 1 to 100 characters
-- (docs/api.md section 0); p_name is the parameter name used in the message.
CREATE OR REPLACE FUNCTION challenge._check_identifier(p_name text, p_value text)
RETURNS void
LANGUAGE plpgsql
-- VOLATILE (the default), not IMMUTABLE: a function that raises must never be folded at plan time.
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF p_value IS NULL OR length(p_value) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: %s must be a string of 1 to 100 characters', p_name),
            DETAIL = format('Got %s.', coalesce(quote_literal(p_value), 'NULL'));
    END IF;
END;
$function$;
