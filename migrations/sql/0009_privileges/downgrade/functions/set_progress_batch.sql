-- challenge.set_progress_batch(p_items jsonb, p_detail boolean DEFAULT false) RETURNS jsonb
--
-- Sets absolute stat values on many (user, goal) rows of `absolute` goals in one call. Items:
--   {"user_id": "u1", "goal_id": "reach-lvl-20", "value": 17, "inc": 1, "event_id": "...", "occurred_at": "..."}
-- ("inc", default 0, is the change that produced this value; it matters for relative goals only).
-- Returns the same document as increment_progress_batch. Outcomes, in order: unknown_goal,
-- duplicate_event, not_assigned / inactive / claimed, type_mismatch (the goal is not absolute),
-- stale_event (an event of an earlier rotation period; or occurred_at older than the last value
-- applied to the row, or than an earlier item of this batch for the same row), applied. Several items
-- for one row: the latest occurred_at wins (ties: the later item). Completion is sticky within a period.
-- progressMode "relative": progress is the value minus a baseline, the stat value at the start of the
-- period, taken from the row's first event in the period as value - inc ("win 5 matches this week"
-- from a lifetime stat). Rotation periods as in increment_progress_batch.
--
-- Every row it changes gets one row in the audit ledger (challenge.ledger, when pgchallenge.ledger is
-- on) with the progress and status before and after and the applied items' event ids.
-- With p_detail, the result also holds "items": one entry per item, in order, with its outcome
--   {"index": 0, "event_id": "e-91", "goal_id": "kill-10", "outcome": "applied", "completed": false}
-- The work is done by challenge._write_batch, on the write engine (challenge._apply_writes).
CREATE OR REPLACE FUNCTION challenge.set_progress_batch(p_items jsonb, p_detail boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT challenge._write_batch(p_items, 'value', p_detail);
$function$;
