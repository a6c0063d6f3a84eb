-- challenge.explain_progress(p_user_id text, p_goal_id text)
--     RETURNS TABLE (change_id bigint, recorded_at timestamptz, txid bigint, operation text,
--                    event_ids text[], progress_before integer, progress_after integer,
--                    status_before text, status_after text, rotated boolean,
--                    period_start timestamptz, occurred_at timestamptz)
--
-- The history of one player's goal from the audit ledger, oldest first: every assignment, increment,
-- absolute value, rotation, claim and expiry recorded while pgchallenge.ledger was on (and not yet
-- pruned), with the event ids behind each change and the progress and status before and after it.
-- Answers "why is my quest at 7/10?". Empty for a row with no recorded history. Bad arguments: CH003.
CREATE OR REPLACE FUNCTION challenge.explain_progress(p_user_id text, p_goal_id text)
RETURNS TABLE (
    change_id bigint,
    recorded_at timestamptz,
    txid bigint,
    operation text,
    event_ids text[],
    progress_before integer,
    progress_after integer,
    status_before text,
    status_after text,
    rotated boolean,
    period_start timestamptz,
    occurred_at timestamptz
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM challenge._check_identifier('user_id', p_user_id);
    PERFORM challenge._check_identifier('goal_id', p_goal_id);
    RETURN QUERY
    SELECT
        l.change_id, l.recorded_at, l.txid, l.operation, l.event_ids, l.progress_before, l.progress_after,
        l.status_before, l.status_after, l.rotated, l.period_start, l.occurred_at
    FROM challenge.ledger AS l
    WHERE l.user_id = p_user_id
        AND l.goal_id = p_goal_id
    ORDER BY l.change_id;
END;
$function$;
