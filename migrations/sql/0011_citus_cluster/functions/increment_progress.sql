-- challenge.increment_progress(p_user_id text, p_goal_id text, p_delta integer DEFAULT 1,
--     p_event_id text DEFAULT NULL, p_occurred_at timestamptz DEFAULT now())
--     RETURNS TABLE (outcome text, progress integer, status text, newly_completed boolean)
--
-- The single-item form of increment_progress_batch, with the same rules and outcomes. Returns one row:
-- the outcome, the row's progress and status after the call (NULL when there is no row or the goal is
-- unknown), and whether this call first reached the target. Bad arguments raise CH003.
--
-- Fast path, for the common case of an assigned active goal without rotation periods: at most one insert
-- (the event id) and one guarded UPDATE by primary key joined to the catalog, whose guards are the
-- engine's rules for such an increment. completed_at takes this call's own timestamp (clock_timestamp() at entry), so
-- "completed_at = that timestamp" in RETURNING tells exactly whether this call completed the goal. With
-- the audit ledger on, the row is first locked and read for the ledger's "before", and an applied call
-- adds one ledger row. Everything else (the UPDATE matched nothing, a goal with periods, or a duplicate)
-- goes through the write engine (challenge._apply_writes) with this one write: the outcome order and the
-- period rules are written once.
CREATE OR REPLACE FUNCTION challenge.increment_progress(
    p_user_id text,
    p_goal_id text,
    p_delta integer DEFAULT 1,
    p_event_id text DEFAULT NULL,
    p_occurred_at timestamptz DEFAULT now()
)
RETURNS TABLE (outcome text, progress integer, status text, newly_completed boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_ledger boolean := challenge._ledger_enabled();
    v_fresh boolean := true;
    v_day date;
    v_applied record;
    v_before_progress integer;
    v_before_status text;
    v_before_period timestamptz;
    v_period_after timestamptz;
    v_version bigint;
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
        v_fresh := (challenge._remember_new_events(ARRAY[p_user_id], ARRAY[p_event_id]))[1];
    END IF;

    IF v_fresh THEN
        v_day := (p_occurred_at AT TIME ZONE 'UTC')::date;
        IF v_ledger THEN
            -- The ledger records the row as it was: lock it first (the UPDATE would lock it anyway), so
            -- no other writer can change it between this read and the UPDATE.
            SELECT p.progress, p.status, p.period_start
            INTO v_before_progress, v_before_status, v_before_period
            FROM challenge.progress AS p
            WHERE p.user_id = p_user_id
                AND p.goal_id = p_goal_id
            FOR NO KEY UPDATE;
        END IF;
        -- Goals without rotation periods only (no onExpiry rule to apply, nothing stale by period): the
        -- others go through the engine. Every expression reads p, never a copy of it: when this UPDATE
        -- waits for another writer, PostgreSQL re-evaluates them on the row's latest version.
        UPDATE challenge.progress AS p
        SET
            progress = least(p.progress::bigint + p_delta, 2147483647)::integer,
            status = CASE
                WHEN p.status = 'completed' OR p.progress::bigint + p_delta >= g.target THEN 'completed'
                ELSE 'in_progress'
            END,
            completed_at = CASE
                WHEN p.status = 'completed' THEN p.completed_at
                WHEN p.progress::bigint + p_delta >= g.target THEN v_now
            END,
            last_counted_day = CASE WHEN g.is_daily THEN v_day ELSE p.last_counted_day END,
            updated_at = v_now,
            version = p.version + 1
        FROM challenge.goals AS g
        WHERE p.user_id = p_user_id
            AND p.goal_id = p_goal_id
            AND g.goal_id = p.goal_id
            AND g.retired_at IS NULL
            AND g.period_schedule IS NULL
            AND p.is_active
            AND p.status <> 'claimed'
            -- Once per UTC day (daily: true): a day after the last counted one.
            AND (NOT g.is_daily OR p.last_counted_day IS NULL OR p.last_counted_day < v_day)
        RETURNING 'applied', p.progress, p.status, p.completed_at IS NOT DISTINCT FROM v_now, p.period_start,
            p.version
        INTO outcome, progress, status, newly_completed, v_period_after, v_version;
        IF FOUND THEN
            IF v_ledger THEN
                INSERT INTO challenge.ledger (
                    user_id, goal_id, operation, event_ids, progress_before, progress_after, status_before,
                    status_after, rotated, period_start, occurred_at, row_version
                )
                VALUES (
                    p_user_id, p_goal_id, 'increment', CASE WHEN p_event_id IS NOT NULL THEN ARRAY[p_event_id] END,
                    v_before_progress, progress, v_before_status, status,
                    v_period_after IS DISTINCT FROM v_before_period, v_period_after, p_occurred_at, v_version
                );
            END IF;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    SELECT * INTO v_applied
    FROM challenge._apply_writes(
        ARRAY[ROW(1, p_user_id, p_goal_id, false, p_delta, NULL, p_event_id, p_occurred_at)::challenge._write],
        ARRAY[v_fresh],
        v_ledger,
        true  -- detail: this one write's outcome
    );
    outcome := v_applied.outcomes[1];
    newly_completed := v_applied.completed_users IS NOT NULL;
    SELECT p.progress, p.status
    INTO progress, status
    FROM challenge.progress AS p
    JOIN challenge.goals AS g ON g.goal_id = p.goal_id AND g.retired_at IS NULL
    WHERE p.user_id = p_user_id
        AND p.goal_id = p_goal_id;
    RETURN NEXT;
END;
$function$;
