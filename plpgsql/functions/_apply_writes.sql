-- challenge._apply_writes(p_writes challenge._write[], p_fresh boolean[], p_ledger boolean,
--     p_detail boolean, OUT counts jsonb, OUT outcomes text[], OUT completed_users text[],
--     OUT completed_goals text[])
--
-- Private: the write engine. Every progress write goes through it (increment_progress_batch,
-- set_progress_batch, record_events, and increment_progress whenever its one-row fast path does not
-- apply). The writes are validated by the caller (challenge._write: ords 1..n in array order, the order
-- the rules follow). p_fresh, when not NULL, holds per ord whether the write's event id was new
-- -- (challenge._remember_new_events): a write with an event id that was not is a duplicate_event.
-- Returns how many writes got each outcome (counts: {"applied": n, "inactive": n, ...}, outcomes with
-- no write left out), with p_detail also one outcome per write indexed by ord (else NULL: no sort of
-- the writes back into their order), and the rows this call completed, sorted by (user_id, goal_id).
-- With p_ledger, every changed row gets one row in challenge.ledger.
--
-- Rules (docs/api.md, "Outcomes"): the outcome order is challenge._outcome; several writes for one row
-- all count (increments summed; of absolute values the newest occurred_at wins, ties the later write);
-- a once-per-day goal (daily: true) counts one increment per UTC day of occurred_at; a write of an
-- earlier rotation period than the row's or than the call's newest for the row is stale; the first write
-- of a later period applies the goal's onExpiry rule (challenge._resets) and moves the row there;
-- progressMode relative counts from a baseline (the period's first value - inc); completion is sticky
-- within a period and completed_at set once.
--
-- How: one statement. The writes, with their goals' catalog facts (_writes_in_catalog), are sorted by
-- key; each row is read once, without a lock, and every write judged against it; the applied writes
-- are summed per row; and each row is updated once, by (user_id, goal_id), guarded by the state it was
-- judged on. In READ COMMITTED an UPDATE that meets a row changed since the statement's snapshot
-- re-checks its condition on the latest version, so a row another writer changed in between is simply
-- not updated: its writes are judged again by a re-run against the new state (rare: two writers on one
-- player at once). Rows are updated in key order (nested loops over the sorted rows), so concurrent
-- calls meet their common rows in one order and cannot deadlock; rows that cannot move are only read.
-- No row address is carried anywhere: every access is by the player key, which a table sharded by
-- user_id can route.
CREATE OR REPLACE FUNCTION challenge._apply_writes(
    p_writes challenge._write[],
    p_fresh boolean[],
    p_ledger boolean,
    p_detail boolean,
    OUT counts jsonb,
    OUT outcomes text[],
    OUT completed_users text[],
    OUT completed_goals text[]
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- The update must walk the sorted rows (lock order); the planner cannot size the intermediate results.
SET enable_nestloop = on
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $function$
DECLARE
    v_now timestamptz := clock_timestamp();
    -- The one player of a call whose writes are all one player's (a single write, a player's batch), else
    -- NULL. Stated in the row reads and the update, it lets Citus reach that player's shard alone, not every
    -- shard; on plain PostgreSQL it changes nothing. The scan stops at the first write of another player.
    v_player text := CASE
        WHEN NOT EXISTS (SELECT FROM unnest(p_writes) AS w WHERE w.user_id <> p_writes[1].user_id)
            THEN p_writes[1].user_id
    END;
    v_retry integer[];
    v_again record;
BEGIN
    IF coalesce(cardinality(p_writes), 0) = 0 THEN
        counts := '{}';
        outcomes := CASE WHEN p_detail THEN '{}'::text[] END;
        RETURN;
    END IF;

    WITH write AS (
        SELECT
            w.*,
            d.is_duplicate,
            challenge._period_start(w.period_schedule, w.occurred_at) AS write_period,
            -- The UTC day a once-per-day goal (daily: true) counts the increment for; NULL otherwise.
            CASE WHEN w.is_daily AND NOT w.is_set THEN (w.occurred_at AT TIME ZONE 'UTC')::date END AS counted_day,
            -- Whether a rule looks at the row's other writes of the call: its newest period, the day's
            -- first increment, the newest value before this one. Most writes (increments of goals
            -- without periods) need none, and skip the sort and the windows below.
            -- Never NULL (a write of an unknown goal has no catalog facts): each write takes one branch.
            coalesce(w.period_schedule IS NOT NULL OR w.is_daily OR w.is_set, false) AS sees_others,
            -- Whether the write is judged against its row: its goal is known and its event id new. The
            -- others' outcome is decided without one.
            coalesce(w.is_known AND NOT d.is_duplicate, false) AS reads_row
        FROM challenge._writes_in_catalog(p_writes) AS w
        CROSS JOIN LATERAL (
            SELECT w.event_id IS NOT NULL AND NOT coalesce(p_fresh[w.ord], true) AS is_duplicate
        ) AS d
    ),
    windowed AS (
        SELECT
            w.*,
            max(w.write_period) OVER per_row AS call_period,
            -- The first write of its UTC day (once-per-day goals): the previous write is of another day.
            w.counted_day IS DISTINCT FROM lag(w.counted_day) OVER earlier AS first_of_day,
            max(w.occurred_at) OVER earlier AS newest_before
        FROM write AS w
        WHERE w.reads_row AND w.sees_others
        WINDOW
            per_row AS (PARTITION BY w.user_id, w.goal_id),
            -- lag ignores the frame: both functions share one window, so one pass computes them.
            earlier AS (per_row ORDER BY w.counted_day, w.ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ),
    -- The rows, read once by key, without a lock: an inner join on (user_id, goal_id), which Citus pushes
    -- to every shard with the writes sent along (an outer or lateral join from the writes would make it
    -- fetch the whole table first). A write whose row does not exist joins none and is not judged here:
    -- its outcome is added at the end (every_outcome).
    read AS (
        SELECT
            s.*,
            p.is_active AS row_active,
            p.status AS row_status,
            p.progress AS row_progress,
            p.last_counted_day AS row_last_counted_day,
            p.last_value_at AS row_last_value_at,
            p.baseline AS row_baseline,
            p.period_start AS row_period_start
        FROM (
            SELECT * FROM windowed
            UNION ALL
            SELECT w.*, NULL::timestamptz, true, NULL::timestamptz
            FROM write AS w
            WHERE w.reads_row AND NOT w.sees_others
        ) AS s
        JOIN challenge.progress AS p ON p.user_id = s.user_id AND p.goal_id = s.goal_id
            AND p.user_id = coalesce(v_player, s.user_id)
        UNION ALL
        SELECT
            w.*, NULL::timestamptz, true, NULL::timestamptz,
            NULL::boolean, NULL::text, NULL::integer, NULL::date, NULL::timestamptz, NULL::integer, NULL::timestamptz
        FROM write AS w
        WHERE NOT w.reads_row
    ),
    state AS (
        SELECT
            s.*,
            coalesce(s.call_period > coalesce(s.row_period_start, '-infinity'), false) AS rotates,
            challenge._resets(s.row_period_start, s.row_status, s.period_resets, s.period_reselects, s.call_period)
                AS resets
        FROM read AS s
    ),
    judged AS (
        SELECT
            t.*,
            challenge._outcome(
                t.is_known,
                t.is_duplicate,
                t.row_status IS NOT NULL,
                t.row_active,
                t.row_status = 'claimed' AND NOT t.resets,
                t.is_set AND (NOT t.is_absolute OR t.amount IS NULL),
                t.write_period < greatest(t.call_period, t.row_period_start)
                    OR (
                        t.is_set
                        AND t.occurred_at < greatest(
                            CASE WHEN NOT t.resets THEN t.row_last_value_at END,
                            t.newest_before
                        )
                    ),
                t.counted_day IS NOT NULL
                    AND (NOT t.first_of_day OR t.counted_day <= CASE WHEN NOT t.resets THEN t.row_last_counted_day END)
            ) AS outcome
        FROM state AS t
    ),
    summed AS (
        -- Every applied write of a row carries the row as read: aggregate, no join back.
        SELECT
            j.user_id,
            j.goal_id,
            count(*) AS applied,
            bool_or(j.is_set) AS is_set,
            -- The row as read: what the update is guarded by.
            min(j.row_status) AS old_status,
            min(j.row_progress) AS old_progress,
            min(j.row_last_counted_day) AS old_last_counted_day,
            min(j.row_last_value_at) AS old_last_value_at,
            min(j.row_baseline) AS old_baseline,
            min(j.row_period_start) AS old_period_start,
            bool_or(j.resets) AS resets,
            bool_or(j.rotates) AS rotated,
            min(j.target) AS target,
            bool_or(j.is_relative) AS is_relative,
            min(j.period_schedule) AS period_schedule,
            max(j.call_period) AS call_period,
            sum(j.amount) FILTER (WHERE NOT j.is_set) AS delta_sum,
            (array_agg(j.amount ORDER BY j.ord DESC))[1] AS last_value,
            (array_agg(j.amount - j.inc ORDER BY j.ord))[1] AS first_baseline,
            max(j.counted_day) AS last_day,
            max(j.occurred_at) AS occurred_at,
            array_agg(j.event_id ORDER BY j.ord) FILTER (WHERE p_ledger AND j.event_id IS NOT NULL) AS event_ids
        FROM judged AS j
        WHERE j.outcome = 'applied'
        GROUP BY j.user_id, j.goal_id
    ),
    change AS MATERIALIZED (
        SELECT
            c.*,
            new.*,
            challenge._period_end(c.period_schedule, new.period_start) AS expires_at
        FROM summed AS c
        CROSS JOIN LATERAL (
            SELECT
                c.old_status = 'completed' AND NOT c.resets AS was_completed,
                CASE WHEN c.rotated THEN c.call_period ELSE c.old_period_start END AS period_start,
                CASE WHEN c.is_relative THEN coalesce(CASE WHEN NOT c.resets THEN c.old_baseline END, c.first_baseline)
                    END AS baseline
        ) AS b
        CROSS JOIN LATERAL (
            SELECT
                b.*,
                CASE
                    WHEN NOT c.is_set
                        THEN least(CASE WHEN c.resets THEN 0 ELSE c.old_progress END::bigint + c.delta_sum, 2147483647)
                    -- A value below the baseline (a stat reset by the game) counts as no progress.
                    ELSE least(greatest(c.last_value::bigint - coalesce(b.baseline, 0), 0), 2147483647)
                END::integer AS new_progress
        ) AS new
        ORDER BY c.user_id, c.goal_id
    ),
    updated AS (
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
            last_counted_day = CASE WHEN c.resets THEN c.last_day ELSE greatest(p.last_counted_day, c.last_day) END,
            last_value_at = CASE
                WHEN c.is_set THEN c.occurred_at
                WHEN NOT c.resets THEN p.last_value_at
            END,
            baseline = CASE
                WHEN c.is_set THEN c.baseline
                WHEN NOT c.resets THEN p.baseline
            END,
            period_start = c.period_start,
            expires_at = coalesce(c.expires_at, p.expires_at),
            updated_at = v_now,
            version = p.version + 1
        FROM change AS c
        WHERE p.user_id = c.user_id
            AND p.goal_id = c.goal_id
            -- For Citus, as in the read above. An equality with the joined row's own key when there is no
            -- one player, never a bare "v_player IS NULL OR": that opaque filter let a generic plan scan
            -- progress as the outer side, locking rows in physical order (deadlocks, seen in the tests).
            AND p.user_id = coalesce(v_player, c.user_id)
            -- Guarded by the state the writes were judged on (see above).
            AND p.is_active
            AND p.status = c.old_status
            AND p.progress = c.old_progress
            AND p.last_counted_day IS NOT DISTINCT FROM c.old_last_counted_day
            AND p.last_value_at IS NOT DISTINCT FROM c.old_last_value_at
            AND p.baseline IS NOT DISTINCT FROM c.old_baseline
            AND p.period_start IS NOT DISTINCT FROM c.old_period_start
        RETURNING
            p.user_id,
            p.goal_id,
            c.applied,
            c.is_set,
            NOT c.was_completed AND p.status = 'completed' AS newly_completed,
            c.old_progress,
            c.old_status,
            p.progress,
            p.status,
            c.rotated,
            p.period_start,
            c.event_ids,
            c.occurred_at,
            p.version
    ),
    logged AS (
        INSERT INTO challenge.ledger (
            user_id, goal_id, operation, event_ids, progress_before, progress_after, status_before,
            status_after, rotated, period_start, occurred_at, row_version
        )
        SELECT
            u.user_id, u.goal_id, CASE WHEN u.is_set THEN 'set' ELSE 'increment' END, u.event_ids,
            u.old_progress, u.progress, u.old_status, u.status, u.rotated, u.period_start, u.occurred_at, u.version
        FROM updated AS u
        WHERE p_ledger
        ORDER BY u.user_id, u.goal_id
    ),
    every_outcome AS (
        SELECT j.ord, j.outcome FROM judged AS j
        UNION ALL
        -- The writes that found no row to read (the check before the scan runs once): not assigned.
        SELECT w.ord, challenge._outcome(true, false, false, NULL, NULL, NULL, NULL, NULL)
        FROM write AS w
        WHERE (SELECT count(*) FROM judged) < cardinality(p_writes)
            AND w.reads_row
            AND w.ord NOT IN (SELECT j.ord FROM judged AS j)
    )
    SELECT
        coalesce((
            SELECT jsonb_object_agg(n.outcome, n.writes)
            FROM (
                SELECT o.outcome, count(*) AS writes FROM every_outcome AS o WHERE o.outcome <> 'applied' GROUP BY o.outcome
            ) AS n
        ), '{}'::jsonb)
            -- Applied: the writes of the rows actually updated (the others are judged again below).
            || jsonb_build_object('applied', (SELECT coalesce(sum(u.applied), 0) FROM updated AS u)),
        CASE WHEN p_detail THEN (SELECT array_agg(o.outcome ORDER BY o.ord) FROM every_outcome AS o) END,
        (SELECT array_agg(u.user_id ORDER BY u.user_id, u.goal_id) FROM updated AS u WHERE u.newly_completed),
        (SELECT array_agg(u.goal_id ORDER BY u.user_id, u.goal_id) FROM updated AS u WHERE u.newly_completed),
        -- The applied writes of rows another writer changed in between (evaluated only when there are any).
        CASE WHEN (SELECT count(*) FROM updated) < (SELECT count(*) FROM change) THEN (
            SELECT array_agg(j.ord ORDER BY j.ord)
            FROM judged AS j
            WHERE j.outcome = 'applied'
                AND NOT EXISTS (SELECT FROM updated AS u WHERE u.user_id = j.user_id AND u.goal_id = j.goal_id)
        ) END
    INTO counts, outcomes, completed_users, completed_goals, v_retry;

    IF v_retry IS NOT NULL THEN
        -- Rare: another writer changed these rows between this statement's snapshot and its update. Their
        -- writes are judged again by a new statement, which sees the rows' new state.
        v_again := challenge._apply_writes(
            -- Numbered 1..k again, in the same order (the ords are this call's outcome positions).
            ARRAY(
                SELECT ROW(
                    row_number() OVER (ORDER BY w.ord), w.user_id, w.goal_id, w.is_set, w.amount, w.inc,
                    w.event_id, w.occurred_at
                )::challenge._write
                FROM unnest(p_writes) AS w
                WHERE w.ord = ANY (v_retry)
                ORDER BY w.ord
            ),
            NULL,  -- applied writes: none is a duplicate
            p_ledger,
            p_detail
        );
        SELECT jsonb_object_agg(k.outcome, coalesce((counts ->> k.outcome)::bigint, 0)
                + coalesce((v_again.counts ->> k.outcome)::bigint, 0))
        INTO counts
        FROM (SELECT jsonb_object_keys(counts) UNION SELECT jsonb_object_keys(v_again.counts)) AS k(outcome);
        IF p_detail THEN
            FOR v_index IN 1 .. cardinality(v_retry) LOOP
                outcomes[v_retry[v_index]] := v_again.outcomes[v_index];
            END LOOP;
        END IF;
        completed_users := completed_users || v_again.completed_users;
        completed_goals := completed_goals || v_again.completed_goals;
    END IF;
END;
$function$;
