-- challenge.increment_progress_batch(p_items jsonb) RETURNS jsonb
--
-- Adds deltas to many (user, goal) rows in one call. Items:
--   {"user_id": "u1", "goal_id": "kill-10", "delta": 1, "event_id": "e-91", "occurred_at": "2026-11-27T10:00:00Z"}
-- (delta defaults to 1, occurred_at to now(); event_id is optional). Returns
--   {"applied": n, "completed": [{"user_id", "goal_id"}...], "skipped": {<8 outcome counts>}}
-- Every item gets exactly one outcome, decided in this order (api.md section 3): unknown_goal,
-- duplicate_event, not_assigned / inactive / claimed, already_counted_today (once-per-day goals),
-- applied. Several items for one row all apply (deltas summed); a once-per-day goal counts each UTC
-- day of occurred_at once. Status becomes in_progress, then completed once progress >= target;
-- completed is never undone and completed_at is set once. Malformed input raises CH002 and changes
-- nothing.
--
-- How: one validation pass, one insert of the event ids, then ONE set-based statement over the whole
-- payload: the recordset from the jsonb is checked against the catalog, aggregated per key, the rows
-- that can move are locked in (user_id, goal_id) order (so concurrent batches cannot deadlock) and
-- read at their latest committed state, and each locked row is updated once, by its tid. Rows that
-- are not assigned, inactive or claimed are only read, never locked or written.
CREATE OR REPLACE FUNCTION challenge.increment_progress_batch(p_items jsonb)
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
    IF challenge._check_write_items(p_items, 'delta') = 0 THEN
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
            coalesce(r.delta, 1) AS delta,
            r.event_id,
            coalesce(r.occurred_at, now()) AS occurred_at
        FROM ROWS FROM (
            jsonb_to_recordset(p_items)
                AS (user_id text, goal_id text, delta integer, event_id text, occurred_at timestamptz)
        ) WITH ORDINALITY AS r(user_id, goal_id, delta, event_id, occurred_at, ord)
    ),
    checked AS (
        SELECT
            i.ord,
            i.user_id,
            i.goal_id,
            i.delta,
            i.occurred_at,
            (i.occurred_at AT TIME ZONE 'UTC')::date AS day,
            g.target,
            g.counts_once_per_day AS once_per_day,
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
            p.progress,
            p.status,
            p.last_counted_day,
            w.target
        FROM wanted AS w
        JOIN challenge.progress AS p
            ON p.user_id = w.user_id
            AND p.goal_id = w.goal_id
        WHERE p.is_active
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
    counted AS (
        SELECT
            c.ord,
            c.delta,
            c.day,
            c.once_per_day,
            l.row_tid,
            CASE
                WHEN NOT c.once_per_day THEN 'applied'
                WHEN c.day > coalesce(l.last_counted_day, '-infinity'::date)
                    AND row_number() OVER (PARTITION BY l.row_tid, c.day ORDER BY c.ord) = 1
                    THEN 'applied'
                ELSE 'already_counted_today'
            END AS outcome
        FROM checked AS c
        JOIN locked AS l
            ON l.user_id = c.user_id
            AND l.goal_id = c.goal_id
        WHERE c.early_outcome IS NULL
    ),
    changes AS (
        SELECT
            l.row_tid,
            l.status AS old_status,
            least(l.progress::bigint + a.added, 2147483647)::integer AS new_progress,
            a.last_day,
            l.target
        FROM (
            SELECT
                n.row_tid,
                sum(n.delta) AS added,
                max(n.day) FILTER (WHERE n.once_per_day) AS last_day
            FROM counted AS n
            WHERE n.outcome = 'applied'
            GROUP BY n.row_tid
        ) AS a
        JOIN locked AS l ON l.row_tid = a.row_tid
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
            last_counted_day = greatest(p.last_counted_day, c.last_day),
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
        SELECT n.ord, n.outcome
        FROM counted AS n
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
                'user_id', c.user_id, 'goal_id', c.goal_id, 'delta', c.delta, 'occurred_at', c.occurred_at
            )
            ORDER BY o.ord
        ) FILTER (WHERE o.outcome = 'raced')
    INTO v_outcomes, v_completed, v_raced
    FROM outcome AS o
    JOIN checked AS c ON c.ord = o.ord;

    v_result := challenge._batch_result(coalesce(v_outcomes, '{}'), v_completed);
    IF v_raced IS NOT NULL THEN
        -- Rare: a row was deactivated, claimed or deleted between our snapshot and our lock. Its items
        -- go through the whole rule set again against the row's new state.
        v_result := challenge._merge_batch_results(v_result, challenge.increment_progress_batch(v_raced));
    END IF;
    RETURN v_result;
END;
$function$;
