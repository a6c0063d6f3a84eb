-- challenge._parse_write_items(p_items jsonb, p_value_key text, OUT writes challenge._write[],
--     OUT user_ids text[], OUT event_ids text[])
--
-- Private: the edge of increment_progress_batch (p_value_key 'delta') and set_progress_batch ('value').
-- Turns the payload into the engine's typed writes (ords 1..n in payload order), and the user and event
-- ids by ord for challenge._remember_new_events. The rules an item must follow are those of
-- _check_write_items, which names the first bad item (CH002, nothing changed).
--
-- Optimistic: one pass parses every item and checks cheaply that the whole payload is well formed
-- (one JSON path test of the types, one count of the keys, the typed values' ranges, one regular
-- expression over all timestamps); only when that fails does _check_write_items go through the items
-- one by one to name the culprit (a payload that only looks suspicious, e.g. with an explicit JSON null,
-- passes it and is used as parsed).
CREATE OR REPLACE FUNCTION challenge._parse_write_items(
    p_items jsonb,
    p_value_key text,
    OUT writes challenge._write[],
    OUT user_ids text[],
    OUT event_ids text[]
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_is_set boolean := p_value_key = 'value';
    v_well_typed boolean;
    v_keys bigint;
    v_members integer;
    v_in_range boolean;
    v_stamps text;
    v_stamp_count bigint;
BEGIN
    IF p_items IS NULL OR jsonb_typeof(p_items) <> 'array' OR jsonb_array_length(p_items) > 50000 THEN
        PERFORM challenge._check_write_items(p_items, p_value_key);  -- raises
    END IF;

    -- Every item an object; ids strings; numbers numbers; absent or null where optional.
    v_well_typed := NOT jsonb_path_exists(
        p_items,
        CASE WHEN v_is_set
            THEN '$[*] ? (@.type() != "object" || !exists(@.user_id) || @.user_id.type() != "string"
                || !exists(@.goal_id) || @.goal_id.type() != "string" || !exists(@.value) || @.value.type() != "number"
                || (@.inc.type() != "number" && @.inc.type() != "null")
                || (@.event_id.type() != "string" && @.event_id.type() != "null")
                || (@.occurred_at.type() != "string" && @.occurred_at.type() != "null"))'
            ELSE '$[*] ? (@.type() != "object" || !exists(@.user_id) || @.user_id.type() != "string"
                || !exists(@.goal_id) || @.goal_id.type() != "string"
                || (@.delta.type() != "number" && @.delta.type() != "null")
                || (@.event_id.type() != "string" && @.event_id.type() != "null")
                || (@.occurred_at.type() != "string" && @.occurred_at.type() != "null"))'
        END::jsonpath
    );
    -- Every key a known one: as many members as known keys holding a value (an explicit null counts as
    -- a member only, and sends the payload to the precise check).
    v_members := jsonb_array_length(jsonb_path_query_array(p_items, '$[*].*'));

    IF v_well_typed THEN
        BEGIN
            SELECT
                array_agg(
                    ROW(
                        r.ord, r.user_id, r.goal_id, v_is_set,
                        CASE
                            WHEN v_is_set AND r.value BETWEEN 0 AND 2147483647 THEN r.value::integer
                            WHEN NOT v_is_set AND coalesce(r.delta, 1) BETWEEN 1 AND 1000000 THEN coalesce(r.delta, 1)::integer
                        END,
                        CASE WHEN coalesce(r.inc, 0) BETWEEN 0 AND 1000000 THEN coalesce(r.inc, 0)::integer END,
                        r.event_id,
                        coalesce(r.occurred_at::timestamptz, now())
                    )::challenge._write
                    ORDER BY r.ord
                ),
                array_agg(r.user_id ORDER BY r.ord),
                array_agg(r.event_id ORDER BY r.ord),
                count(r.user_id) + count(r.goal_id) + count(r.delta) + count(r.value) + count(r.inc)
                    + count(r.event_id) + count(r.occurred_at),
                -- Per row never NULL: bool_and skips NULLs.
                coalesce(bool_and(coalesce(
                    length(r.user_id) BETWEEN 1 AND 100
                    AND length(r.goal_id) BETWEEN 1 AND 100
                    AND coalesce(length(r.event_id) BETWEEN 1 AND 100, true)
                    AND CASE
                        WHEN v_is_set THEN r.value BETWEEN 0 AND 2147483647 AND r.value = trunc(r.value)
                            AND coalesce(r.inc BETWEEN 0 AND 1000000 AND r.inc = trunc(r.inc), true)
                            AND r.delta IS NULL
                        ELSE coalesce(r.delta BETWEEN 1 AND 1000000 AND r.delta = trunc(r.delta), true)
                            AND r.value IS NULL AND r.inc IS NULL
                    END,
                    false
                )), true),
                string_agg(r.occurred_at, '|') || '|',
                count(r.occurred_at)
            INTO writes, user_ids, event_ids, v_keys, v_in_range, v_stamps, v_stamp_count
            FROM ROWS FROM (
                jsonb_to_recordset(p_items) AS (
                    user_id text, goal_id text, delta numeric, value numeric, inc numeric, event_id text,
                    occurred_at text
                )
            ) WITH ORDINALITY AS r(user_id, goal_id, delta, value, inc, event_id, occurred_at, ord);
        EXCEPTION
            WHEN data_exception THEN
                v_in_range := false;  -- a timestamp the cast refuses: the precise check names it
        END;
    END IF;

    IF NOT (
        v_well_typed
        AND v_in_range
        AND v_keys = v_members
        AND challenge._stamps_match(v_stamps, v_stamp_count)
    ) THEN
        PERFORM challenge._check_write_items(p_items, p_value_key);
        IF NOT coalesce(v_well_typed AND v_in_range, false) THEN
            -- Not reached: whatever fails the typed checks fails the precise ones too.
            RAISE EXCEPTION 'challenge._parse_write_items: payload refused by the fast checks only';
        END IF;
    END IF;
    writes := coalesce(writes, '{}');
END;
$function$;
