-- challenge.record_events(p_events jsonb, p_detail boolean DEFAULT false, p_source text DEFAULT NULL,
--     p_partition text DEFAULT '', p_epoch bigint DEFAULT 0) RETURNS jsonb
--
-- Records raw game events exactly once and routes them, in the database, to every goal they concern.
-- Events (see _check_events for the full rules):
--   {"event_id": "e-1001", "user_id": "u1", "kind": "statistic", "stat_code": "kills", "value": 57,
--    "inc": 3, "occurred_at": "2026-11-27T10:00:00Z"}
--   {"event_id": "e-1002", "user_id": "u1", "kind": "login", "occurred_at": "2026-11-27T10:00:05Z"}
-- Returns
--   {"events": n, "duplicate_events": n, "applied": n, "skipped": {<8 outcome counts>},
--    "completed": [{"user_id", "goal_id"}...]}
-- and with p_detail also "items": what happened to each event, in event order, one entry per goal it
-- reached, {"index": i, "event_id", "goal_id", "outcome", "completed"}; a duplicate event has one
-- entry with goal_id null and outcome duplicate_event; an event that reached no goal has none.
--
-- Exactly once, two ways:
-- - By event id (the default, for unordered sources): every event id is remembered per player
--   (challenge.processed_events); an event whose (user_id, event_id) was seen before, in an earlier call
--   or earlier in this batch, is a duplicate event. An event id is unique within its player.
-- - By source position (p_source given, for ordered sources: a Kafka partition, a replicated log, a file
--   read in order): every event carries "position" (an integer, increasing within the call; gaps are
--   normal) and event_id becomes optional (it labels the ledger only). The watermark of (p_source,
--   p_partition) is locked and advanced in this transaction: events at or below it are duplicates, and
--   nothing per event is remembered. p_epoch fences consumers: a call with an epoch below the
--   partition's raises CH030 source_fenced and changes nothing (a consumer that lost its partition); a
--   higher one takes the partition over. challenge.acquire_source hands out epochs and the position to
--   resume from.
-- A duplicate event is skipped whole, counted only in duplicate_events; its first delivery's effects
-- stand, applied once.
-- - Each fresh event reaches every catalog goal (not retired) of its event source: a login event every
--   login goal, a statistic event every statistic goal with its stat_code. Per (event, goal): a
--   statistic event on an `absolute` goal sets the progress to `value` (no value: type_mismatch; its
--   `inc` goes along, for relative goals' baselines); otherwise the goal's progress is incremented by
--   `inc` (default 1; a login is worth 1). The rules and outcomes of the batch writes apply per
--   (event, goal): applied + sum(skipped) = number of (fresh event, goal) pairs.
-- - An event that matches no goal is counted in events and nowhere else.
-- - Malformed input raises CH002 (DETAIL "item N: ...") and changes nothing; at most 50,000 events.
--
-- How: parse and validate once (_parse_events), deduplicate (_remember_new_events, or the watermark),
-- route the fresh events to their goals in one join with the catalog, and apply every (event, goal)
-- pair in one call of the write engine (_apply_writes), which locks rows in one global key order.
CREATE OR REPLACE FUNCTION challenge.record_events(
    p_events jsonb,
    p_detail boolean DEFAULT false,
    p_source text DEFAULT NULL,
    p_partition text DEFAULT '',
    p_epoch bigint DEFAULT 0
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- Routing joins the events with the catalog: a hash join, linear in both (the planner cannot size the
-- parsed arrays, and a nested loop would compare every event with every goal).
SET enable_nestloop = off
AS $function$
DECLARE
    -- A bad pgchallenge.ledger value fails every call, even one whose events reach no goal.
    v_ledger boolean := challenge._ledger_enabled();
    v_sourced boolean := p_source IS NOT NULL;
    v_events record;
    v_count integer;
    v_fresh boolean[];
    v_watermark bigint;
    v_writes challenge._write[];
    v_indexes integer[];
    v_applied record;
    v_result jsonb;
BEGIN
    SELECT * INTO v_events FROM challenge._parse_events(p_events, v_sourced);
    v_count := coalesce(cardinality(v_events.user_ids), 0);

    IF v_sourced THEN
        v_watermark := challenge._advance_source(p_source, p_partition, p_epoch, v_events.positions[v_count]);
        v_fresh := ARRAY(SELECT p > coalesce(v_watermark, -1) FROM unnest(v_events.positions) AS p);
    ELSIF v_count > 0 THEN
        v_fresh := challenge._remember_new_events(v_events.user_ids, v_events.event_ids);
    END IF;

    -- Route: one write per (fresh event, goal), numbered in event order.
    SELECT
        array_agg(
            ROW(r.ord, r.user_id, r.goal_id, r.is_set, r.amount, r.inc, r.event_id, r.occurred_at)::challenge._write
            ORDER BY r.ord
        ),
        array_agg(r.event_index ORDER BY r.ord)
    INTO v_writes, v_indexes
    FROM (
        SELECT
            row_number() OVER (ORDER BY e.ord, g.goal_id)::integer AS ord,
            e.ord::integer - 1 AS event_index,
            e.user_id,
            g.goal_id,
            e.kind = 'statistic' AND g.goal_type = 'absolute' AS is_set,
            -- An increment adds inc (default 1; a login is worth 1); a value carries the event's inc only
            -- when the event has one (a relative goal's baseline is value - inc), else 0.
            CASE WHEN e.kind = 'statistic' AND g.goal_type = 'absolute' THEN e.value ELSE coalesce(e.inc, 1) END
                AS amount,
            coalesce(e.inc, 0) AS inc,
            e.event_id,
            e.occurred_at
        FROM unnest(
            v_events.event_ids, v_events.user_ids, v_events.kinds, v_events.stat_codes, v_events.event_values,
            v_events.incs, v_events.occurred
        ) WITH ORDINALITY AS e(event_id, user_id, kind, stat_code, value, inc, occurred_at, ord)
        JOIN challenge.goals AS g
            ON g.event_source = e.kind
            AND (e.kind = 'login' OR g.stat_code = e.stat_code)
            AND g.retired_at IS NULL
        -- Fresh events only, by subscript (O(1) in every plan).
        WHERE v_fresh[e.ord]
    ) AS r;

    SELECT * INTO v_applied FROM challenge._apply_writes(coalesce(v_writes, '{}'), NULL, v_ledger, p_detail);

    v_result := jsonb_build_object(
        'events', v_count,
        'duplicate_events', v_count - coalesce(cardinality(array_positions(v_fresh, true)), 0)
    ) || challenge._write_result(v_applied.counts, v_applied.completed_users, v_applied.completed_goals);
    IF v_sourced THEN
        v_result := v_result || jsonb_build_object('position', greatest(v_watermark, v_events.positions[v_count]));
    END IF;
    IF p_detail THEN
        v_result := v_result || jsonb_build_object('items', (
            SELECT coalesce(jsonb_agg(d.item ORDER BY d.item_index, d.nth), '[]'::jsonb)
            FROM (
                SELECT w.item_index, w.nth, w.item
                FROM challenge._write_item_details(
                    v_writes, v_applied.outcomes, v_indexes, v_applied.completed_users, v_applied.completed_goals
                ) AS w
                UNION ALL
                SELECT
                    e.ord::integer - 1,
                    0,
                    jsonb_build_object(
                        'index', e.ord - 1, 'event_id', e.event_id, 'goal_id', NULL, 'outcome', 'duplicate_event',
                        'completed', false
                    )
                FROM unnest(v_events.event_ids, v_fresh) WITH ORDINALITY AS e(event_id, fresh, ord)
                WHERE NOT e.fresh
            ) AS d
        ));
    END IF;
    RETURN v_result;
END;
$function$;
