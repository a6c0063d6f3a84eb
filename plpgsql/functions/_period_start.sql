-- challenge._period_start(p_schedule text, p_at timestamptz) RETURNS timestamptz
--
-- Private. Start of the rotation period holding p_at: daily at 00:00 UTC, weekly on Monday 00:00 UTC,
-- monthly on the 1st 00:00 UTC; NULL when p_schedule is NULL (the goal has no periods). All arithmetic
-- is on UTC wall-clock time, so the session TimeZone changes nothing (hence IMMUTABLE). No SET clause
-- and qualified names: PostgreSQL inlines it into the calling query (batches call it per item).
CREATE OR REPLACE FUNCTION challenge._period_start(p_schedule text, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT pg_catalog.date_trunc(
        CASE p_schedule WHEN 'daily' THEN 'day' WHEN 'weekly' THEN 'week' WHEN 'monthly' THEN 'month' END,
        p_at AT TIME ZONE 'UTC'
    ) AT TIME ZONE 'UTC';
$function$;
