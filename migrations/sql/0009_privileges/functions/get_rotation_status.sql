-- challenge.get_rotation_status(p_challenge_id text) RETURNS TABLE (challenge_id text, enabled boolean,
--     goal_id text, schedule text, period_start timestamptz, period_end timestamptz, seconds_left bigint,
--     next_period_start timestamptz, next_period_end timestamptz)
--
-- The rotation clock of a challenge, from its first goal (in config order) with rotation periods: the
-- current period's start and end (UTC boundaries: daily 00:00, weekly Monday 00:00, monthly the 1st),
-- the whole seconds left in it (as of the transaction's now()), and the next period. One row;
-- enabled = false (and NULL times) when no goal of the challenge rotates. Unknown challenge: CH011.
CREATE OR REPLACE FUNCTION challenge.get_rotation_status(p_challenge_id text)
RETURNS TABLE (
    challenge_id text,
    enabled boolean,
    goal_id text,
    schedule text,
    period_start timestamptz,
    period_end timestamptz,
    seconds_left bigint,
    next_period_start timestamptz,
    next_period_end timestamptz
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF NOT EXISTS (SELECT FROM challenge.challenges AS c WHERE c.challenge_id = p_challenge_id) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH011',
            MESSAGE = format('challenge %s not found', p_challenge_id),
            HINT = 'Challenge ids come from the loaded config (challenge.load_config).';
    END IF;

    RETURN QUERY
    SELECT
        p_challenge_id,
        g.goal_id IS NOT NULL,
        g.goal_id,
        g.period_schedule,
        t.period_start,
        t.period_end,
        floor(extract(epoch FROM t.period_end - now()))::bigint,
        t.period_end,
        challenge._period_end(g.period_schedule, t.period_end)
    FROM (SELECT) AS one
    LEFT JOIN LATERAL (
        SELECT r.goal_id, r.period_schedule
        FROM challenge.goals AS r
        WHERE r.challenge_id = p_challenge_id
            AND r.retired_at IS NULL
            AND r.period_schedule IS NOT NULL
        ORDER BY r.position
        LIMIT 1
    ) AS g ON true
    LEFT JOIN LATERAL (
        SELECT
            challenge._period_start(g.period_schedule, now()) AS period_start,
            challenge._period_end(g.period_schedule, now()) AS period_end
    ) AS t ON true;
END;
$function$;
