-- challenge._limits() RETURNS jsonb
--
-- Private: the one list of the write paths' limits, for the tests, which check that the validators
-- enforce exactly these (the limit passes, one more is refused) and that the Python client's constants
-- equal them (docs/api.md section 0, "Limits", documents them for clients):
--   batch_items    items or events per call (increment_progress_batch, set_progress_batch, record_events)
--   id_length      characters of a user, goal or event id
--   delta          the largest increment of one item
--   value          the largest absolute value (PostgreSQL's integer)
--   inc            the largest inc of an event
--   position       the largest source position (PostgreSQL's bigint)
--   source_length  characters of a source or partition name
CREATE OR REPLACE FUNCTION challenge._limits()
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT jsonb_build_object(
        'batch_items', 50000,
        'id_length', 100,
        'delta', 1000000,
        'value', 2147483647,
        'inc', 1000000,
        'position', 9223372036854775807,
        'source_length', 200
    );
$function$;
