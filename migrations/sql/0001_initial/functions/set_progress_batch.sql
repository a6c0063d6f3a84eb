-- challenge.set_progress_batch(p_items jsonb) RETURNS jsonb
--
-- Sets absolute stat values on many (user, goal) rows of `absolute` goals in one call. Items:
--   {"user_id": "u1", "goal_id": "reach-lvl-20", "value": 17, "event_id": "...", "occurred_at": "..."}
-- Returns the same document as increment_progress_batch. Outcomes, in order: unknown_goal,
-- duplicate_event, not_assigned / inactive / claimed, type_mismatch (the goal is not absolute),
-- stale_event (occurred_at older than the last value applied to the row, or than an earlier item of
-- this batch for the same row), applied. Several items for one row: the latest occurred_at wins (ties:
-- the later item). Completion is sticky: a lower value after completion keeps status completed.
--
-- Same shape as increment_progress_batch: one set-based statement, movable rows locked in key order,
-- each updated once by tid.
CREATE OR REPLACE FUNCTION challenge.set_progress_batch(p_items jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_fresh_ords bigint[] := '{}';
    v_outcomes text[];
    v_completed jsonb;
    v_raced jsonb;
    v_result jsonb;
BEGIN
    IF challenge._check_write_items(p_items, 'value') = 0 THEN
        RETURN challenge._batch_result('{}', '[]');
    END IF;

    IF jsonb_path_exists(p_items, '$[*] ? (@.event_id.type() == "string")') THEN
        v_fresh_ords := challenge._remember_events(p_items);
    END IF;

    WITH item AS (
        SELECT
            r.ord,
            r.user_id,
            r.goal_id,
            r.value,
            r.event_id,
            coalesce(r.occurred_at, now()) AS occurred_at
        FROM ROWS FROM (
            jsonb_to_recordset(p_items)
                AS (user_id text, goal_id text, value integer, event_id text, occurred_at timestamptz)
        ) WITH ORDINALITY AS r(user_id, goal_id, value, event_id, occurred_at, ord)
    ),
    checked AS (
        SELECT
            i.ord,
            i.user_id,
            i.goal_id,
            i.value,
            i.occurred_at,
            g.target,
            g.goal_type = 'absolute' AS is_absolute,
            CASE
                WHEN g.goal_id IS NULL THEN 'unknown_goal'
                WHEN i.event_id IS NOT NULL AND f.ord IS NULL THEN 'duplicate_event'
            END AS early_outcome
        FROM item AS i
        LEFT JOIN challenge.goals AS g
            ON g.goal_id = i.goal_id
            AND g.retired_at IS NULL
        LEFT JOIN unnest(v_fresh_ords) AS f(ord)
            ON f.ord = i.ord
    ),
    wanted AS (
        SELECT
            c.user_id,
            c.goal_id,
            bool_and(c.is_absolute) AS is_absolute,
            min(c.target) AS target
        FROM checked AS c
        WHERE c.early_outcome IS NULL
        GROUP BY c.user_id, c.goal_id
    ),
    locked AS MATERIALIZED (
        SELECT
            p.ctid AS row_tid,
            p.user_id,
            p.goal_id,
            p.status,
            p.last_value_at,
            w.target
        FROM wanted AS w
        JOIN challenge.progress AS p
            ON p.user_id = w.user_id
            AND p.goal_id = w.goal_id
        WHERE w.is_absolute
            AND p.is_active
            AND p.status <> 'claimed'
        ORDER BY p.user_id, p.goal_id
        FOR NO KEY UPDATE OF p
    ),
    unlocked AS (
        SELECT
            w.user_id,
            w.goal_id,
            CASE
                WHEN p.user_id IS NULL THEN 'not_assigned'
                WHEN NOT p.is_active THEN 'inactive'
                WHEN p.status = 'claimed' THEN 'claimed'
                WHEN NOT w.is_absolute THEN 'type_mismatch'
                -- Movable in our snapshot, but its latest version was not: re-run below.
                ELSE 'raced'
            END AS outcome
        FROM wanted AS w
        LEFT JOIN challenge.progress AS p
            ON p.user_id = w.user_id
            AND p.goal_id = w.goal_id
        WHERE NOT EXISTS (
            SELECT
            FROM locked AS l
            WHERE l.user_id = w.user_id
                AND l.goal_id = w.goal_id
        )
    ),
    ordered AS (
        SELECT
            c.ord,
            c.value,
            c.occurred_at,
            l.row_tid,
            -- Processing the row's items in batch order, an item is stale when something newer was
            -- already applied: the row's last value, or an earlier item of this batch.
            c.occurred_at < greatest(
                l.last_value_at,
                max(c.occurred_at) OVER (
                    PARTITION BY l.row_tid
                    ORDER BY c.ord
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                )
            ) AS is_stale
        FROM checked AS c
        JOIN locked AS l
            ON l.user_id = c.user_id
            AND l.goal_id = c.goal_id
        WHERE c.early_outcome IS NULL
    ),
    judged AS (
        SELECT
            o.ord,
            o.row_tid,
            o.value,
            o.occurred_at,
            CASE WHEN o.is_stale THEN 'stale_event' ELSE 'applied' END AS outcome
        FROM ordered AS o
    ),
    changes AS (
        -- The last applied item of a row carries its latest occurred_at: its value wins.
        SELECT DISTINCT ON (j.row_tid)
            j.row_tid,
            l.status AS old_status,
            j.value AS new_progress,
            j.occurred_at AS value_at,
            l.target
        FROM judged AS j
        JOIN locked AS l ON l.row_tid = j.row_tid
        WHERE j.outcome = 'applied'
        ORDER BY j.row_tid, j.ord DESC
    ),
    updated AS (
        UPDATE challenge.progress AS p
        SET
            progress = c.new_progress,
            status = CASE
                WHEN p.status = 'completed' OR c.new_progress >= c.target THEN 'completed'
                WHEN c.new_progress > 0 THEN 'in_progress'
                ELSE p.status
            END,
            completed_at = CASE
                WHEN p.completed_at IS NULL AND c.new_progress >= c.target THEN v_now
                ELSE p.completed_at
            END,
            last_value_at = c.value_at,
            updated_at = v_now
        FROM changes AS c
        WHERE p.ctid = c.row_tid
        RETURNING
            p.user_id,
            p.goal_id,
            c.old_status <> 'completed' AND p.status = 'completed' AS newly_completed
    ),
    outcome AS (
        SELECT c.ord, c.early_outcome AS outcome
        FROM checked AS c
        WHERE c.early_outcome IS NOT NULL
        UNION ALL
        SELECT j.ord, j.outcome
        FROM judged AS j
        UNION ALL
        SELECT c.ord, u.outcome
        FROM checked AS c
        JOIN unlocked AS u
            ON u.user_id = c.user_id
            AND u.goal_id = c.goal_id
        WHERE c.early_outcome IS NULL
    )
    SELECT
        array_agg(o.outcome) FILTER (WHERE o.outcome <> 'raced'),
        (
            SELECT jsonb_agg(
                jsonb_build_object('user_id', u.user_id, 'goal_id', u.goal_id)
                ORDER BY u.user_id, u.goal_id
            )
            FROM updated AS u
            WHERE u.newly_completed
        ),
        jsonb_agg(
            -- The event id (if any) is already remembered as ours: re-send the item without it.
            jsonb_build_object(
                'user_id', c.user_id, 'goal_id', c.goal_id, 'value', c.value, 'occurred_at', c.occurred_at
            )
            ORDER BY o.ord
        ) FILTER (WHERE o.outcome = 'raced')
    INTO v_outcomes, v_completed, v_raced
    FROM outcome AS o
    JOIN checked AS c ON c.ord = o.ord;

    v_result := challenge._batch_result(coalesce(v_outcomes, '{}'), v_completed);
    IF v_raced IS NOT NULL THEN
        -- Rare: a row was deactivated, claimed or deleted between our snapshot and our lock.
        v_result := challenge._merge_batch_results(v_result, challenge.set_progress_batch(v_raced));
    END IF;
    RETURN v_result;
END;
$function$;
