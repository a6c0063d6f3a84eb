-- challenge._parse_events(p_events jsonb, p_sourced boolean, OUT event_ids text[], OUT user_ids text[],
--     OUT kinds text[], OUT stat_codes text[], OUT event_values integer[], OUT incs integer[],
--     OUT occurred timestamptz[], OUT positions bigint[])
--
-- Private: the edge of record_events. Turns the events into parallel typed arrays, by event (1-based),
-- under the rules of _check_events (which names the first bad event: CH002, nothing changed).
-- occurred_at defaults to now(); value and inc stay NULL when absent (record_events gives inc its
-- default, which depends on the goal).
--
-- Optimistic, like _parse_write_items: one pass parses every event and checks cheaply that the whole
-- payload is well formed; only when that fails does _check_events go through the events one by one.
CREATE OR REPLACE FUNCTION challenge._parse_events(
    p_events jsonb,
    p_sourced boolean,
    OUT event_ids text[],
    OUT user_ids text[],
    OUT kinds text[],
    OUT stat_codes text[],
    OUT event_values integer[],
    OUT incs integer[],
    OUT occurred timestamptz[],
    OUT positions bigint[]
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_well_typed boolean;
    v_keys bigint;
    v_members integer;
    v_in_range boolean;
    v_stamps text;
    v_stamp_count bigint;
BEGIN
    IF p_events IS NULL OR jsonb_typeof(p_events) <> 'array' OR jsonb_array_length(p_events) > 50000 THEN
        PERFORM challenge._check_events(p_events, p_sourced);  -- raises
    END IF;

    -- Every event an object; ids and codes strings; numbers numbers; absent or null where optional.
    v_well_typed := NOT jsonb_path_exists(
        p_events,
        '$[*] ? (@.type() != "object" || !exists(@.user_id) || @.user_id.type() != "string"
            || (@.event_id.type() != "string" && @.event_id.type() != "null")
            || (!exists(@.event_id) && $sourced == false)
            || !exists(@.kind) || @.kind.type() != "string"
            || (@.stat_code.type() != "string" && @.stat_code.type() != "null")
            || (@.value.type() != "number" && @.value.type() != "null")
            || (@.inc.type() != "number" && @.inc.type() != "null")
            || (@.occurred_at.type() != "string" && @.occurred_at.type() != "null")
            || (@.position.type() != "number" && @.position.type() != "null")
            || (!exists(@.position) && $sourced == true))',
        jsonb_build_object('sourced', p_sourced)
    );
    v_members := jsonb_array_length(jsonb_path_query_array(p_events, '$[*].*'));

    IF v_well_typed THEN
        BEGIN
            SELECT
                array_agg(e.event_id ORDER BY e.ord),
                array_agg(e.user_id ORDER BY e.ord),
                array_agg(e.kind ORDER BY e.ord),
                array_agg(e.stat_code ORDER BY e.ord),
                array_agg(CASE WHEN e.value BETWEEN 0 AND 2147483647 THEN e.value::integer END ORDER BY e.ord),
                array_agg(CASE WHEN e.inc BETWEEN 1 AND 1000000 THEN e.inc::integer END ORDER BY e.ord),
                array_agg(coalesce(e.occurred_at::timestamptz, now()) ORDER BY e.ord),
                array_agg(CASE WHEN e.position BETWEEN 0 AND 9223372036854775807 THEN e.position::bigint END ORDER BY e.ord),
                count(e.event_id) + count(e.user_id) + count(e.kind) + count(e.stat_code) + count(e.value)
                    + count(e.inc) + count(e.occurred_at) + count(e.position),
                -- Per row never NULL: bool_and skips NULLs.
                coalesce(bool_and(coalesce(
                    coalesce(length(e.event_id) BETWEEN 1 AND 100, p_sourced)
                    AND length(e.user_id) BETWEEN 1 AND 100
                    AND e.kind IN ('login', 'statistic')
                    AND CASE e.kind
                        WHEN 'login' THEN e.stat_code IS NULL AND e.value IS NULL AND e.inc IS NULL
                        ELSE length(e.stat_code) BETWEEN 1 AND 100
                    END
                    AND coalesce(e.value BETWEEN 0 AND 2147483647 AND e.value = trunc(e.value), true)
                    AND coalesce(e.inc BETWEEN 1 AND 1000000 AND e.inc = trunc(e.inc), true)
                    AND CASE
                        WHEN p_sourced THEN e.position BETWEEN 0 AND 9223372036854775807
                            AND e.position = trunc(e.position)
                            AND e.position > coalesce(e.previous_position, -1)
                        ELSE e.position IS NULL
                    END,
                    false
                )), true),
                string_agg(e.occurred_at, '|') || '|',
                count(e.occurred_at)
            INTO event_ids, user_ids, kinds, stat_codes, event_values, incs, occurred, positions,
                v_keys, v_in_range, v_stamps, v_stamp_count
            FROM (
                SELECT r.*, lag(r.position) OVER (ORDER BY r.ord) AS previous_position
                FROM ROWS FROM (
                    jsonb_to_recordset(p_events) AS (
                        event_id text, user_id text, kind text, stat_code text, value numeric, inc numeric,
                        occurred_at text, position numeric
                    )
                ) WITH ORDINALITY AS r(event_id, user_id, kind, stat_code, value, inc, occurred_at, position, ord)
            ) AS e;
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
        PERFORM challenge._check_events(p_events, p_sourced);
        IF NOT coalesce(v_well_typed AND v_in_range, false) THEN
            -- Not reached: whatever fails the typed checks fails the precise ones too.
            RAISE EXCEPTION 'challenge._parse_events: payload refused by the fast checks only';
        END IF;
    END IF;
END;
$function$;
