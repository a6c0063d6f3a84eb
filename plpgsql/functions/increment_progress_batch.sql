-- challenge.increment_progress_batch(p_items jsonb, p_detail boolean DEFAULT false) RETURNS jsonb
--
-- Adds deltas to many (user, goal) rows in one call. Items:
--   {"user_id": "u1", "goal_id": "kill-10", "delta": 1, "event_id": "e-91", "occurred_at": "2026-11-27T10:00:00Z"}
-- (delta defaults to 1, occurred_at to now(); event_id is optional). Returns
--   {"applied": n, "completed": [{"user_id", "goal_id"}...], "skipped": {<8 outcome counts>}}
-- Every item gets exactly one outcome, decided in this order (docs/api.md section 3): unknown_goal,
-- duplicate_event, not_assigned / inactive / claimed, stale_event (an event of an earlier rotation
-- period than the row's, or than another item of this batch for the row), already_counted_today
-- (daily: true goals), applied. Several items for one row all apply (deltas summed); a daily: true
-- goal counts each UTC day of occurred_at once. Status becomes in_progress, then completed once
-- progress >= target; completed is never undone within a period and completed_at is set once.
-- Goals with rotation periods: the first write in a later period applies the goal's onExpiry rule
-- (reset to not_started/0, claimed rows too when re-selection is allowed; or carry over) and moves the
-- row to that period. Malformed input raises CH002 and changes nothing.
--
-- Every row it changes gets one row in the audit ledger (challenge.ledger, when pgchallenge.ledger is
-- on) with the progress and status before and after and the applied items' event ids.
-- With p_detail, the result also holds "items": one entry per item, in order, with its outcome
--   {"index": 0, "event_id": "e-91", "goal_id": "kill-10", "outcome": "applied", "completed": false}
-- The work is done by challenge._write_batch, on the write engine (challenge._apply_writes).
CREATE OR REPLACE FUNCTION challenge.increment_progress_batch(p_items jsonb, p_detail boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT challenge._write_batch(p_items, 'delta', p_detail);
$function$;
