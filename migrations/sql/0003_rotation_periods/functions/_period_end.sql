-- challenge._period_end(p_schedule text, p_at timestamptz) RETURNS timestamptz
--
-- Private. End (exclusive) of the rotation period holding p_at: the next 00:00 UTC, the next Monday
-- 00:00 UTC, or the next 1st 00:00 UTC (calendar months, so February ends on the 28th or 29th). NULL
-- when p_schedule is NULL.
CREATE OR REPLACE FUNCTION challenge._period_end(p_schedule text, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT (
        pg_catalog.date_trunc(
            CASE p_schedule WHEN 'daily' THEN 'day' WHEN 'weekly' THEN 'week' WHEN 'monthly' THEN 'month' END,
            p_at AT TIME ZONE 'UTC'
        )
        + CASE p_schedule
            WHEN 'daily' THEN interval '1 day'
            WHEN 'weekly' THEN interval '7 days'
            WHEN 'monthly' THEN interval '1 month'
        END
    ) AT TIME ZONE 'UTC';
$function$;
