-- challenge._set_batch(p_items jsonb, p_prepared boolean) RETURNS jsonb
--
-- Private: the body of set_progress_batch (see there for the rules and outcomes) and of
-- record_events' routed writes. p_prepared = true: the caller validated the items and remembered
-- their event ids (record_events dedups per event, and one event's items share its id), so neither
-- happens again and event ids only label the ledger rows.
--
-- Same shape as _increment_batch: one set-based statement judges every item with the movable
-- rows locked in key order; a second updates each row once, by its locked tid.
CREATE OR REPLACE FUNCTION challenge._set_batch(p_items jsonb, p_prepared boolean)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_ledger boolean := challenge._ledger_enabled();
    -- Per item, first use of a new event id (_remember_new_events); empty when no item carries one.
    v_new_event boolean[] := '{}'::boolean[];
    v_outcomes text[];
    v_completed jsonb;
    v_raced jsonb;
    v_result jsonb;
    v_tids tid[];
    v_progresses integer[];
    v_value_times timestamptz[];
    v_targets integer[];
    v_were_completed boolean[];
    v_resets boolean[];
    v_baselines integer[];
    v_period_starts timestamptz[];
    v_expires timestamptz[];
    v_old_progresses integer[];
    v_old_statuses text[];
    v_rotated boolean[];
    v_event_ids jsonb[];
    v_occurred timestamptz[];
BEGIN
    IF p_prepared THEN
        -- Validated, event ids remembered: by record_events, or by this function before a re-run.
        IF coalesce(jsonb_array_length(p_items), 0) = 0 THEN
            RETURN challenge._batch_result('{}', '[]');
        END IF;
    ELSE
        IF challenge._check_write_items(p_items, 'value') = 0 THEN
            RETURN challenge._batch_result('{}', '[]');
        END IF;
        IF jsonb_path_exists(p_items, '$[*] ? (@.event_id.type() == "string")') THEN
            v_new_event := challenge._remember_new_events(p_items);
        END IF;
    END IF;

    WITH parsed AS (
        SELECT
            r.ord,
            r.user_id,
            r.goal_id,
            -- numeric: JSON may spell an integer 17.0; validation guaranteed an integral value.
            r.value::integer AS value,
            coalesce(r.inc, 0)::integer AS inc,
            coalesce(r.occurred_at, now()) AS occurred_at,
            r.event_id,
            NOT p_prepared AND r.event_id IS NOT NULL
                AND NOT coalesce(v_new_event[r.ord], false) AS is_duplicate,
            g.goal_id IS NOT NULL AS is_known,
            g.goal_type = 'absolute' AS is_absolute,
            g.progress_mode = 'relative' AS is_relative,
            g.target,
            g.period_schedule,
            g.period_resets,
            g.period_reselects,
            challenge._period_start(g.period_schedule, coalesce(r.occurred_at, now())) AS item_period
        FROM ROWS FROM (
            jsonb_to_recordset(p_items) AS (
                user_id text, goal_id text, value numeric, inc numeric, event_id text, occurred_at timestamptz
            )
        ) WITH ORDINALITY AS r(user_id, goal_id, value, inc, event_id, occurred_at, ord)
        LEFT JOIN challenge.goals AS g
            ON g.goal_id = r.goal_id
            AND g.retired_at IS NULL
    ),
    item AS MATERIALIZED (
        -- Sorted by key: the lateral lock below walks this order, so concurrent batches lock their
        -- common rows in the same order and cannot deadlock. The same sort finds each row's newest
        -- period in the batch.
        SELECT
            max(i.item_period) OVER (PARTITION BY i.user_id, i.goal_id, i.is_duplicate) AS batch_period,
            i.*
        FROM parsed AS i
        ORDER BY i.user_id, i.goal_id, i.is_duplicate, i.ord
    ),
    state AS (
        SELECT
            i.*,
            l.row_tid,
            l.progress,
            l.status,
            l.last_value_at,
            l.baseline,
            l.period_start,
            coalesce(i.batch_period > coalesce(l.period_start, '-infinity'), false) AS rotates,
            coalesce(
                i.batch_period > coalesce(l.period_start, '-infinity')
                    AND i.period_resets
                    AND (l.status <> 'claimed' OR i.period_reselects),
                false
            ) AS resets,
            CASE
                WHEN l.row_tid IS NOT NULL THEN NULL
                WHEN s.user_id IS NULL THEN 'not_assigned'
                WHEN NOT s.is_active THEN 'inactive'
                WHEN s.status = 'claimed' THEN 'claimed'
                WHEN NOT i.is_absolute THEN 'type_mismatch'
                -- Movable in our snapshot, but its latest version was not: re-run below.
                ELSE 'raced'
            END AS row_outcome
        FROM item AS i
        -- Lock the rows that can move, at their latest committed version (see
        -- increment_progress_batch for claimed rows entering a new period).
        LEFT JOIN LATERAL (
            SELECT
                p.ctid AS row_tid,
                p.progress,
                p.status,
                p.last_value_at,
                p.baseline,
                p.period_start
            FROM challenge.progress AS p
            WHERE p.user_id = i.user_id
                AND p.goal_id = i.goal_id
                AND p.is_active
                AND (
                    p.status <> 'claimed'
                    OR (
                        i.batch_period > coalesce(p.period_start, '-infinity')
                        AND i.period_resets
                        AND i.period_reselects
                    )
                )
                AND i.is_known
                AND i.is_absolute
                AND NOT i.is_duplicate
            FOR NO KEY UPDATE OF p
        ) AS l ON true
        -- Only read (never lock) the rows that cannot move, to name the reason.
        LEFT JOIN LATERAL (
            SELECT
                p.user_id,
                p.is_active,
                p.status
            FROM challenge.progress AS p
            WHERE p.user_id = i.user_id
                AND p.goal_id = i.goal_id
                AND l.row_tid IS NULL
                AND i.is_known
                AND NOT i.is_duplicate
            -- OFFSET 0 keeps this a separate subquery, so "l.row_tid IS NULL" gates the index scan
            -- instead of filtering its result: locked rows are not looked up twice.
            OFFSET 0
        ) AS s ON true
    ),
    judged AS (
        SELECT
            t.user_id,
            t.goal_id,
            t.row_tid,
            CASE WHEN t.resets THEN 'not_started' ELSE t.status END AS base_status,
            CASE WHEN t.resets THEN NULL ELSE t.baseline END AS base_baseline,
            t.is_relative,
            t.target,
            t.resets,
            CASE WHEN t.rotates THEN t.batch_period ELSE t.period_start END AS period_start,
            t.period_schedule,
            t.ord,
            t.event_id,
            t.progress AS old_progress,
            t.status AS old_status,
            t.rotates,
            t.value,
            t.inc,
            t.occurred_at,
            CASE
                WHEN NOT t.is_known THEN 'unknown_goal'
                WHEN t.is_duplicate THEN 'duplicate_event'
                WHEN t.row_outcome IS NOT NULL THEN t.row_outcome
                -- An event of an earlier period than the row's, or than the newest of this batch.
                WHEN t.item_period < greatest(t.batch_period, t.period_start) THEN 'stale_event'
                -- Taking the row's items of the period in batch order, an item is stale when something
                -- newer was already applied: the row's last value, or an earlier item of this batch.
                WHEN t.occurred_at < greatest(
                    CASE WHEN t.resets THEN NULL ELSE t.last_value_at END,
                    max(t.occurred_at) FILTER (WHERE t.item_period IS NOT DISTINCT FROM t.batch_period) OVER (
                        PARTITION BY t.user_id, t.goal_id, t.is_duplicate
                        ORDER BY t.ord
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                    )
                ) THEN 'stale_event'
                ELSE 'applied'
            END AS outcome
        FROM state AS t
    ),
    changes AS (
        -- Every applied item of a row carries the row's locked state: aggregate, no join back. The
        -- last applied item carries the newest occurred_at: its value wins; a relative goal without a
        -- baseline in this period takes it from the first applied item (value - inc).
        SELECT
            j.row_tid,
            -- The row as locked, before this call (the same on every item of the row): the ledger's
            -- "before"; the applied items' event ids only when the ledger is on.
            min(j.old_progress) FILTER (WHERE v_ledger) AS old_progress,
            min(j.old_status) FILTER (WHERE v_ledger) AS old_status,
            bool_or(j.rotates) FILTER (WHERE v_ledger) AS rotated,
            jsonb_agg(j.event_id ORDER BY j.ord) FILTER (WHERE v_ledger AND j.event_id IS NOT NULL) AS event_ids,
            max(j.occurred_at) FILTER (WHERE v_ledger) AS occurred_at,
            bool_or(j.base_status = 'completed') AS was_completed,
            (array_agg(j.value ORDER BY j.ord DESC))[1]
                - CASE
                    WHEN bool_or(j.is_relative)
                        THEN coalesce(min(j.base_baseline), (array_agg(j.value - j.inc ORDER BY j.ord))[1])
                    ELSE 0
                END AS raw_progress,
            CASE
                WHEN bool_or(j.is_relative)
                    THEN coalesce(min(j.base_baseline), (array_agg(j.value - j.inc ORDER BY j.ord))[1])
            END AS baseline,
            max(j.occurred_at) AS value_at,
            min(j.target) AS target,
            bool_or(j.resets) AS resets,
            max(j.period_start) AS period_start,
            challenge._period_end(min(j.period_schedule), max(j.period_start)) AS expires_at
        FROM judged AS j
        WHERE j.outcome = 'applied'
        GROUP BY j.row_tid
    )
    SELECT
        (SELECT array_agg(j.outcome) FROM judged AS j WHERE j.outcome <> 'raced'),
        (
            SELECT jsonb_agg(
                -- Already validated and remembered: the re-run keeps the event id for the ledger only.
                jsonb_build_object(
                    'user_id', j.user_id, 'goal_id', j.goal_id, 'value', j.value, 'inc', j.inc,
                    'occurred_at', j.occurred_at,
                    'event_id', j.event_id
                )
                ORDER BY j.ord
            )
            FROM judged AS j
            WHERE j.outcome = 'raced'
        ),
        array_agg(c.row_tid),
        -- A value below the baseline (a stat reset by the game) counts as no progress, not negative.
        array_agg(least(greatest(c.raw_progress, 0), 2147483647)::integer),
        array_agg(c.value_at),
        array_agg(c.target),
        array_agg(c.was_completed),
        array_agg(c.resets),
        array_agg(c.baseline),
        array_agg(c.period_start),
        array_agg(c.expires_at),
        -- The ledger's columns only when it is on: NULL arrays cost the UPDATE (nearly) nothing.
        array_agg(c.old_progress) FILTER (WHERE v_ledger),
        array_agg(c.old_status) FILTER (WHERE v_ledger),
        array_agg(c.rotated) FILTER (WHERE v_ledger),
        array_agg(c.event_ids) FILTER (WHERE v_ledger),
        array_agg(c.occurred_at) FILTER (WHERE v_ledger)
    INTO
        v_outcomes, v_raced, v_tids, v_progresses, v_value_times, v_targets, v_were_completed, v_resets,
        v_baselines, v_period_starts, v_expires, v_old_progresses, v_old_statuses, v_rotated, v_event_ids, v_occurred
    FROM changes AS c;

    -- A new statement, so a new snapshot: it sees the latest version of every row we locked (their
    -- writers committed before we got the lock), and the locked tids reach them without an index.
    WITH updated AS (
        UPDATE challenge.progress AS p
        SET
            progress = c.new_progress,
            status = CASE
                WHEN c.was_completed OR c.new_progress >= c.target THEN 'completed'
                WHEN c.new_progress > 0 THEN 'in_progress'
                WHEN c.resets THEN 'not_started'
                ELSE p.status
            END,
            completed_at = CASE
                WHEN c.was_completed THEN p.completed_at
                WHEN c.new_progress >= c.target THEN v_now
            END,
            claimed_at = CASE WHEN c.resets THEN NULL ELSE p.claimed_at END,
            last_counted_day = CASE WHEN c.resets THEN NULL ELSE p.last_counted_day END,
            last_value_at = c.value_at,
            baseline = c.baseline,
            period_start = c.period_start,
            expires_at = coalesce(c.expires_at, p.expires_at),
            updated_at = v_now
        FROM unnest(
            v_tids, v_progresses, v_value_times, v_targets, v_were_completed, v_resets, v_baselines,
            v_period_starts, v_expires,
            v_old_progresses, v_old_statuses, v_rotated, v_event_ids, v_occurred
        ) AS c(row_tid, new_progress, value_at, target, was_completed, resets, baseline, period_start, expires_at,
            old_progress, old_status, rotated, event_ids, occurred_at)
        WHERE p.ctid = c.row_tid
        RETURNING
            p.user_id,
            p.goal_id,
            NOT c.was_completed AND p.status = 'completed' AS newly_completed,
            c.old_progress,
            c.old_status,
            p.progress,
            p.status,
            c.rotated,
            p.period_start,
            c.event_ids,
            c.occurred_at
    ),
    logged AS (
        INSERT INTO challenge.ledger (
            user_id, goal_id, operation, event_ids, progress_before, progress_after, status_before,
            status_after, rotated, period_start, occurred_at
        )
        SELECT
            u.user_id, u.goal_id, 'set',
            CASE WHEN u.event_ids IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(u.event_ids)) END,
            u.old_progress, u.progress, u.old_status, u.status, u.rotated, u.period_start, u.occurred_at
        FROM updated AS u
        WHERE v_ledger
        ORDER BY u.user_id, u.goal_id
    )
    SELECT jsonb_agg(
        jsonb_build_object('user_id', u.user_id, 'goal_id', u.goal_id)
        ORDER BY u.user_id, u.goal_id
    )
    INTO v_completed
    FROM updated AS u
    WHERE u.newly_completed;

    v_result := challenge._batch_result(coalesce(v_outcomes, '{}'), v_completed);
    IF v_raced IS NOT NULL THEN
        -- Rare: a row was deactivated, claimed or deleted between our snapshot and our lock.
        v_result := challenge._merge_batch_results(v_result, challenge._set_batch(v_raced, true));
    END IF;
    RETURN v_result;
END;
$function$;
