-- challenge.record_events(p_events jsonb) RETURNS jsonb
--
-- Records raw game events exactly once and routes them, in the database, to every goal they concern.
-- Events (see _check_events for the full rules):
--   {"event_id": "e-1001", "user_id": "u1", "kind": "statistic", "stat_code": "kills", "value": 57,
--    "inc": 3, "occurred_at": "2026-11-27T10:00:00Z"}
--   {"event_id": "e-1002", "user_id": "u1", "kind": "login", "occurred_at": "2026-11-27T10:00:05Z"}
-- Returns
--   {"events": n, "duplicate_events": n, "applied": n, "skipped": {<8 outcome counts>},
--    "completed": [{"user_id", "goal_id"}...]}
--
-- - Every event id is remembered (challenge.processed_events); an event whose id was seen before, in
--   an earlier call or earlier in this batch, is a duplicate event: skipped whole, counted only in
--   duplicate_events. Its first delivery's effects stand, applied once.
-- - Each fresh event reaches every catalog goal (not retired) of its event source: a login event every
--   login goal, a statistic event every statistic goal with its stat_code. Per (event, goal):
--   a statistic event on an `absolute` goal sets the progress to `value` (no value: type_mismatch;
--   an explicit `inc` goes along, for relative goals' baselines); otherwise the goal's progress is
--   incremented by `inc` (default 1; a login is worth 1), once per UTC day for once-per-day goals. The guards and outcome rules of the batch writes apply per
--   (event, goal): applied and skipped count these applications, so
--   applied + sum(skipped) = number of (fresh event, goal) pairs.
-- - An event that matches no goal is counted in events and nowhere else.
-- - Malformed input raises CH002 (DETAIL "item N: ...") and changes nothing; at most 50,000 events.
--
-- How: one validation pass, one sorted insert of the event ids, one set-based join of the fresh events
-- with the catalog; the increments then go through the body of increment_progress_batch and the
-- absolute values through that of set_progress_batch, as prepared items (validated, deduplicated per
-- event above; the event id goes along to label the ledger rows). Always
-- increments first, then values, each sorted by (user_id, goal_id): increments and values never touch
-- the same goal (a goal has one event source), so every record_events call locks its rows in one
-- global order and concurrent calls cannot deadlock. Routed items beyond the batch functions' 50,000
-- limit are passed in key-ordered slices, which keeps that order.
CREATE OR REPLACE FUNCTION challenge.record_events(p_events jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_events integer;
    v_new_event boolean[];
    v_increments jsonb;
    v_values jsonb;
    v_no_value bigint;
    v_result jsonb;
BEGIN
    -- A bad pgchallenge.ledger value fails every call, even one whose events reach no goal.
    PERFORM challenge._ledger_enabled();
    v_events := challenge._check_events(p_events);
    IF v_events = 0 THEN
        RETURN jsonb_build_object('events', 0, 'duplicate_events', 0) || challenge._batch_result('{}', '[]');
    END IF;

    v_new_event := challenge._remember_new_events(p_events);

    WITH routed AS (
        SELECT
            e.ord,
            e.event_id,
            e.user_id,
            g.goal_id,
            e.kind = 'statistic' AND g.goal_type = 'absolute' AS takes_value,
            e.value,
            e.inc,
            e.occurred_at
        FROM ROWS FROM (
            jsonb_to_recordset(p_events)
                AS (
                    event_id text, user_id text, kind text, stat_code text, value numeric, inc numeric,
                    occurred_at text
                )
        ) WITH ORDINALITY AS e(event_id, user_id, kind, stat_code, value, inc, occurred_at, ord)
        JOIN challenge.goals AS g
            ON g.event_source = e.kind
            AND (e.kind = 'login' OR g.stat_code = e.stat_code)
            AND g.retired_at IS NULL
        -- Fresh events only, by subscript: a join with a list of positions became a loop over the
        -- list per event in the generic plan (see _remember_new_events).
        WHERE v_new_event[e.ord]
    )
    SELECT
        jsonb_agg(
            jsonb_build_object(
                'user_id', r.user_id,
                'goal_id', r.goal_id,
                -- numeric: JSON may spell an integer 3.0; validation guaranteed an integral value.
                'delta', coalesce(r.inc, 1)::integer,
                'occurred_at', r.occurred_at,
                'event_id', r.event_id
            )
            ORDER BY r.user_id, r.goal_id, r.ord
        ) FILTER (WHERE NOT r.takes_value),
        jsonb_agg(
            jsonb_build_object(
                'user_id', r.user_id,
                'goal_id', r.goal_id,
                'value', r.value::integer,
                -- Only when the event carries it (JSON null means absent): a relative goal derives its
                -- baseline from the first value of a period as value - inc.
                'inc', r.inc::integer,
                'occurred_at', r.occurred_at,
                'event_id', r.event_id
            )
            ORDER BY r.user_id, r.goal_id, r.ord
        ) FILTER (WHERE r.takes_value AND r.value IS NOT NULL),
        count(*) FILTER (WHERE r.takes_value AND r.value IS NULL)
    INTO v_increments, v_values, v_no_value
    FROM routed AS r;

    v_result := challenge._batch_result(array_fill('type_mismatch'::text, ARRAY[v_no_value::integer]), '[]');
    v_result := challenge._merge_batch_results(v_result, challenge._apply_routed(v_increments, false));
    v_result := challenge._merge_batch_results(v_result, challenge._apply_routed(v_values, true));

    RETURN jsonb_build_object(
        'events', v_events,
        'duplicate_events', v_events - cardinality(array_positions(v_new_event, true)),
        'applied', v_result -> 'applied',
        'skipped', v_result -> 'skipped',
        'completed', (
            SELECT coalesce(jsonb_agg(c.item ORDER BY c.item ->> 'user_id', c.item ->> 'goal_id'), '[]'::jsonb)
            FROM jsonb_array_elements(v_result -> 'completed') AS c(item)
        )
    );
END;
$function$;
