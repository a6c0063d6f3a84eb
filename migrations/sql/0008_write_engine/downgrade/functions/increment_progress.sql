-- challenge.increment_progress(p_user_id text, p_goal_id text, p_delta integer DEFAULT 1,
--     p_event_id text DEFAULT NULL, p_occurred_at timestamptz DEFAULT now())
--     RETURNS TABLE (outcome text, progress integer, status text, newly_completed boolean)
--
-- The single-item form of increment_progress_batch, with the same rules and outcomes. Returns one row:
-- the outcome, the row's progress and status after the call (NULL when there is no row or the goal is
-- unknown), and whether this call first reached the target. Bad arguments raise CH003.
--
-- Fast path, for the common case of an assigned active goal: at most one insert (the event id) and one
-- guarded UPDATE by primary key joined to the catalog. completed_at takes this call's own timestamp
-- (clock_timestamp() at entry), so "completed_at = that timestamp" in RETURNING tells exactly whether
-- this call completed the goal, without reading the old row first. Only when the UPDATE matched nothing
-- are the catalog and the row read, to name the reason. With the audit ledger on (pgchallenge.ledger),
-- the row is first locked and read for the ledger's "before", and an applied call adds one ledger row.
CREATE OR REPLACE FUNCTION challenge.increment_progress(
    p_user_id text,
    p_goal_id text,
    p_delta integer DEFAULT 1,
    p_event_id text DEFAULT NULL,
    p_occurred_at timestamptz DEFAULT now()
)
RETURNS TABLE (outcome text, progress integer, status text, newly_completed boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_ledger boolean := challenge._ledger_enabled();
    v_before_progress integer;
    v_before_status text;
    v_before_period timestamptz;
    v_period_after timestamptz;
    v_day date;
    v_duplicate boolean := false;
    v_is_daily boolean;
    v_event_period timestamptz;
    v_period_start timestamptz;
    v_is_active boolean;
    v_last_counted_day date;
BEGIN
    IF p_user_id IS NULL OR length(p_user_id) NOT BETWEEN 1 AND 100
        OR p_goal_id IS NULL OR length(p_goal_id) NOT BETWEEN 1 AND 100
        OR p_delta IS NULL OR p_delta NOT BETWEEN 1 AND 1000000
        OR (p_event_id IS NOT NULL AND length(p_event_id) NOT BETWEEN 1 AND 100)
        OR p_occurred_at IS NULL
        OR NOT isfinite(p_occurred_at)
    THEN
        PERFORM challenge._check_identifier('user_id', p_user_id);
        PERFORM challenge._check_identifier('goal_id', p_goal_id);
        IF p_event_id IS NOT NULL THEN
            PERFORM challenge._check_identifier('event_id', p_event_id);
        END IF;
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = CASE
                WHEN p_delta IS NULL OR p_delta NOT BETWEEN 1 AND 1000000
                    THEN format('invalid argument: delta must be an integer between 1 and 1000000, got %s',
                                coalesce(p_delta::text, 'NULL'))
                ELSE 'invalid argument: occurred_at must be a finite timestamp, not NULL'
            END;
    END IF;

    -- Every well-formed event id is remembered, whatever the outcome.
    IF p_event_id IS NOT NULL THEN
        INSERT INTO challenge.processed_events (event_id)
        VALUES (p_event_id)
        ON CONFLICT (event_id) DO NOTHING;
        v_duplicate := NOT FOUND;
    END IF;

    v_day := (p_occurred_at AT TIME ZONE 'UTC')::date;

    -- Retried only if the row becomes movable between the UPDATE and the follow-up read.
    FOR v_attempt IN 1..3 LOOP
        IF NOT v_duplicate THEN
            IF v_ledger THEN
                -- The ledger records the row as it was: lock it first (the UPDATE would lock it anyway),
                -- so no other writer can change it between this read and the UPDATE.
                SELECT p.progress, p.status, p.period_start
                INTO v_before_progress, v_before_status, v_before_period
                FROM challenge.progress AS p
                WHERE p.user_id = p_user_id
                    AND p.goal_id = p_goal_id
                FOR NO KEY UPDATE;
            END IF;
            -- Every expression reads p, never a copy of it: when this UPDATE waits for another writer,
            -- PostgreSQL re-evaluates them on the row's latest version. A write in a later period than
            -- the row's moves the row there, first applying the goal's onExpiry rule: _period_resets
            -- says whether it resets the row to not_started/0.
            UPDATE challenge.progress AS p
            SET
                progress = least(
                    CASE WHEN challenge._period_resets(p, g, e.event_period) THEN 0 ELSE p.progress END::bigint + p_delta,
                    2147483647
                )::integer,
                status = CASE
                    WHEN p.status = 'completed' AND NOT challenge._period_resets(p, g, e.event_period) THEN 'completed'
                    WHEN CASE WHEN challenge._period_resets(p, g, e.event_period) THEN 0 ELSE p.progress END::bigint + p_delta
                        >= g.target
                        THEN 'completed'
                    ELSE 'in_progress'
                END,
                completed_at = CASE
                    WHEN p.status = 'completed' AND NOT challenge._period_resets(p, g, e.event_period) THEN p.completed_at
                    WHEN CASE WHEN challenge._period_resets(p, g, e.event_period) THEN 0 ELSE p.progress END::bigint + p_delta
                        >= g.target
                        THEN v_now
                END,
                claimed_at = CASE WHEN challenge._period_resets(p, g, e.event_period) THEN NULL ELSE p.claimed_at END,
                last_counted_day = CASE
                    WHEN g.is_daily THEN v_day
                    WHEN challenge._period_resets(p, g, e.event_period) THEN NULL
                    ELSE p.last_counted_day
                END,
                last_value_at = CASE WHEN challenge._period_resets(p, g, e.event_period) THEN NULL ELSE p.last_value_at END,
                baseline = CASE WHEN challenge._period_resets(p, g, e.event_period) THEN NULL ELSE p.baseline END,
                period_start = greatest(p.period_start, e.event_period),
                expires_at = coalesce(
                    challenge._period_end(g.period_schedule, greatest(p.period_start, e.event_period)),
                    p.expires_at
                ),
                updated_at = v_now
            FROM challenge.goals AS g
            CROSS JOIN LATERAL (
                SELECT challenge._period_start(g.period_schedule, p_occurred_at) AS event_period
            ) AS e
            WHERE p.user_id = p_user_id
                AND p.goal_id = p_goal_id
                AND g.goal_id = p.goal_id
                AND g.retired_at IS NULL
                AND p.is_active
                AND (p.status <> 'claimed' OR challenge._period_resets(p, g, e.event_period))
                -- An event of an earlier period than the row's is stale.
                AND (e.event_period IS NULL OR e.event_period >= coalesce(p.period_start, '-infinity'))
                AND (
                    NOT g.is_daily
                    OR p.last_counted_day IS NULL
                    OR p.last_counted_day < v_day
                    OR challenge._period_resets(p, g, e.event_period)
                )
            RETURNING p.progress, p.status, p.completed_at IS NOT DISTINCT FROM v_now, p.period_start
            INTO progress, status, newly_completed, v_period_after;

            IF FOUND THEN
                IF v_ledger THEN
                    INSERT INTO challenge.ledger (
                        user_id, goal_id, operation, event_ids, progress_before, progress_after, status_before,
                        status_after, rotated, period_start, occurred_at
                    )
                    VALUES (
                        p_user_id, p_goal_id, 'increment', CASE WHEN p_event_id IS NOT NULL THEN ARRAY[p_event_id] END,
                        v_before_progress, progress, v_before_status, status,
                        v_period_after IS DISTINCT FROM v_before_period, v_period_after, p_occurred_at
                    );
                END IF;
                outcome := 'applied';
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;

        -- Not applied: name the first rule that stopped it (api.md section 3 order).
        newly_completed := false;
        SELECT g.is_daily, challenge._period_start(g.period_schedule, p_occurred_at)
        INTO v_is_daily, v_event_period
        FROM challenge.goals AS g
        WHERE g.goal_id = p_goal_id
            AND g.retired_at IS NULL;
        IF NOT FOUND THEN
            outcome := 'unknown_goal';
            RETURN NEXT;
            RETURN;
        END IF;

        SELECT p.progress, p.status, p.is_active, p.last_counted_day, p.period_start
        INTO progress, status, v_is_active, v_last_counted_day, v_period_start
        FROM challenge.progress AS p
        WHERE p.user_id = p_user_id
            AND p.goal_id = p_goal_id;

        outcome := CASE
            WHEN v_duplicate THEN 'duplicate_event'
            WHEN NOT FOUND THEN 'not_assigned'
            WHEN NOT v_is_active THEN 'inactive'
            WHEN status = 'claimed' THEN 'claimed'
            WHEN v_event_period < v_period_start THEN 'stale_event'
            WHEN v_is_daily AND v_last_counted_day >= v_day
                AND NOT coalesce(v_event_period > v_period_start, false)
                THEN 'already_counted_today'
        END;
        IF outcome IS NOT NULL THEN
            RETURN NEXT;
            RETURN;
        END IF;
        -- The row became movable after our UPDATE looked at it (activated concurrently): try again.
    END LOOP;

    -- Still flapping after three tries: report the state the last read saw.
    outcome := 'inactive';
    RETURN NEXT;
END;
$function$;
