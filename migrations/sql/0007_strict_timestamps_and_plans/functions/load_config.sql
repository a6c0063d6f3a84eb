-- challenge.load_config(p_config jsonb) RETURNS jsonb
--
-- Loads the game's challenge definitions from a document shaped like the reference's challenges.json
-- (camelCase keys). Validates everything first; the first problem raises CH001 invalid_config naming
-- its JSON path (e.g. "challenges[0].goals[2].requirement.targetValue must be a positive integer")
-- and nothing changes. Loading is idempotent and transactional: goals are updated in place (a new
-- target applies to later writes), goals missing from the document are retired (their progress rows
-- stay; writes report unknown_goal; they can no longer be assigned). Returns
--   {"challenges": n, "goals": n, "added": [...], "updated": [...], "retired": [...]} (goal ids).
-- Concurrent loads are serialised by a lock on the catalog; writers and readers are not blocked.
CREATE OR REPLACE FUNCTION challenge.load_config(p_config jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_challenges jsonb;
    v_challenge jsonb;
    v_path text;
    v_goal_path text;
    v_challenge_ids text[] := '{}'::text[];
    v_goal_ids text[] := '{}'::text[];
    v_goal_paths text[] := '{}'::text[];
    v_goals jsonb := '[]'::jsonb;
    v_challenge_rows jsonb := '[]'::jsonb;
    v_normalised jsonb;
    v_prerequisite text;
    v_cycle text;
    v_position integer := 0;
    v_added jsonb;
    v_updated jsonb;
    v_retired jsonb;
BEGIN
    IF p_config IS NULL OR jsonb_typeof(p_config) <> 'object' THEN
        PERFORM challenge._config_error('(document)', 'must be a JSON object with a "challenges" array');
    END IF;
    v_challenges := p_config -> 'challenges';
    IF jsonb_typeof(v_challenges) IS DISTINCT FROM 'array' OR jsonb_array_length(v_challenges) = 0 THEN
        PERFORM challenge._config_error('challenges', 'must be a non-empty array');
    END IF;

    FOR v_ci IN 0 .. jsonb_array_length(v_challenges) - 1 LOOP
        v_challenge := v_challenges -> v_ci;
        v_path := format('challenges[%s]', v_ci);
        IF jsonb_typeof(v_challenge) IS DISTINCT FROM 'object' THEN
            PERFORM challenge._config_error(v_path, 'must be an object');
        END IF;
        IF jsonb_typeof(v_challenge -> 'challengeId') IS DISTINCT FROM 'string'
            OR length(v_challenge ->> 'challengeId') NOT BETWEEN 1 AND 100
        THEN
            PERFORM challenge._config_error(v_path || '.challengeId', 'must be a string of 1 to 100 characters');
        END IF;
        IF (v_challenge ->> 'challengeId') = ANY (v_challenge_ids) THEN
            PERFORM challenge._config_error(
                v_path || '.challengeId',
                format('duplicates challenge id %s', v_challenge ->> 'challengeId')
            );
        END IF;
        v_challenge_ids := v_challenge_ids || (v_challenge ->> 'challengeId');
        IF jsonb_typeof(v_challenge -> 'name') IS DISTINCT FROM 'string' OR length(v_challenge ->> 'name') = 0 THEN
            PERFORM challenge._config_error(v_path || '.name', 'must be a non-empty string');
        END IF;
        IF coalesce(jsonb_typeof(v_challenge -> 'description'), 'null') NOT IN ('string', 'null') THEN
            PERFORM challenge._config_error(v_path || '.description', 'must be a string');
        END IF;
        IF jsonb_typeof(v_challenge -> 'goals') IS DISTINCT FROM 'array'
            OR jsonb_array_length(v_challenge -> 'goals') = 0
        THEN
            PERFORM challenge._config_error(v_path || '.goals', 'must be a non-empty array');
        END IF;
        v_challenge_rows := v_challenge_rows || jsonb_build_object(
            'challenge_id', v_challenge ->> 'challengeId',
            'name', v_challenge ->> 'name',
            'description', coalesce(v_challenge ->> 'description', ''),
            'position', v_ci
        );

        FOR v_gi IN 0 .. jsonb_array_length(v_challenge -> 'goals') - 1 LOOP
            v_goal_path := format('%s.goals[%s]', v_path, v_gi);
            v_normalised := challenge._config_goal(v_challenge -> 'goals' -> v_gi, v_goal_path);
            IF (v_normalised ->> 'goal_id') = ANY (v_goal_ids) THEN
                PERFORM challenge._config_error(
                    v_goal_path || '.goalId',
                    format('duplicates goal id %s (goal ids are unique across all challenges)',
                           v_normalised ->> 'goal_id')
                );
            END IF;
            v_goal_ids := v_goal_ids || (v_normalised ->> 'goal_id');
            v_goal_paths := v_goal_paths || v_goal_path;
            v_goals := v_goals || (v_normalised || jsonb_build_object(
                'challenge_id', v_challenge ->> 'challengeId',
                'position', v_position
            ));
            v_position := v_position + 1;
        END LOOP;
    END LOOP;

    -- Prerequisites: each exists, is not the goal itself, and together they form no cycle.
    FOR v_gi IN 0 .. jsonb_array_length(v_goals) - 1 LOOP
        FOR v_prerequisite IN SELECT jsonb_array_elements_text(v_goals -> v_gi -> 'prerequisites') LOOP
            IF v_prerequisite = (v_goals -> v_gi ->> 'goal_id') THEN
                PERFORM challenge._config_error(
                    v_goal_paths[v_gi + 1] || '.prerequisites',
                    format('must not name the goal itself (%s)', v_prerequisite)
                );
            END IF;
            IF NOT v_prerequisite = ANY (v_goal_ids) THEN
                PERFORM challenge._config_error(
                    v_goal_paths[v_gi + 1] || '.prerequisites',
                    format('names unknown goal %s', v_prerequisite)
                );
            END IF;
        END LOOP;
    END LOOP;

    WITH RECURSIVE edge AS (
        SELECT g.value ->> 'goal_id' AS goal_id, p.prerequisite
        FROM jsonb_array_elements(v_goals) AS g(value)
        CROSS JOIN LATERAL jsonb_array_elements_text(g.value -> 'prerequisites') AS p(prerequisite)
    ),
    walk AS (
        SELECT e.goal_id AS start_id, e.prerequisite AS reached, ARRAY[e.goal_id, e.prerequisite] AS trail
        FROM edge AS e
        UNION ALL
        SELECT w.start_id, e.prerequisite, w.trail || e.prerequisite
        FROM walk AS w
        JOIN edge AS e ON e.goal_id = w.reached
        WHERE w.reached <> w.start_id
            AND NOT e.prerequisite = ANY (w.trail[2:])
    )
    SELECT array_to_string(w.trail, ' -> ')
    INTO v_cycle
    FROM walk AS w
    WHERE w.reached = w.start_id
    ORDER BY array_position(v_goal_ids, w.start_id)
    LIMIT 1;
    IF v_cycle IS NOT NULL THEN
        PERFORM challenge._config_error(
            v_goal_paths[array_position(v_goal_ids, split_part(v_cycle, ' -> ', 1))] || '.prerequisites',
            format('form a cycle: %s', v_cycle)
        );
    END IF;

    -- Valid: apply. One loader at a time; EXCLUSIVE does not block readers or progress writers.
    LOCK TABLE challenge.challenges, challenge.goals IN EXCLUSIVE MODE;

    INSERT INTO challenge.challenges AS c (challenge_id, name, description, position, retired_at)
    SELECT r.challenge_id, r.name, r.description, r.position, NULL
    FROM jsonb_to_recordset(v_challenge_rows)
        AS r(challenge_id text, name text, description text, position integer)
    ON CONFLICT (challenge_id) DO UPDATE
    SET
        name = excluded.name,
        description = excluded.description,
        position = excluded.position,
        retired_at = NULL,
        updated_at = now()
    WHERE (c.name, c.description, c.position, c.retired_at)
        IS DISTINCT FROM (excluded.name, excluded.description, excluded.position, NULL::timestamptz);

    WITH incoming AS (
        SELECT
            r.goal_id, r.challenge_id, r.name, r.description, r.goal_type, r.is_daily, r.event_source,
            r.stat_code, r.target, r.progress_mode, r.default_assigned, r.reward_type, r.reward_id,
            r.reward_quantity,
            ARRAY(SELECT jsonb_array_elements_text(r.prerequisites)) AS prerequisites,
            r.rotation_enabled, r.rotation_schedule, r.rotation_reset_progress,
            r.rotation_allow_reselection, r.position
        FROM jsonb_to_recordset(v_goals) AS r(
            goal_id text, challenge_id text, name text, description text, goal_type text,
            is_daily boolean, event_source text, stat_code text, target integer, progress_mode text,
            default_assigned boolean, reward_type text, reward_id text, reward_quantity integer,
            prerequisites jsonb, rotation_enabled boolean, rotation_schedule text,
            rotation_reset_progress boolean, rotation_allow_reselection boolean, position integer
        )
    ),
    previous AS (
        -- The catalog before this load (every part of the statement sees the same snapshot).
        SELECT g.*
        FROM challenge.goals AS g
    ),
    upserted AS (
        INSERT INTO challenge.goals AS g (
            goal_id, challenge_id, name, description, goal_type, is_daily, event_source, stat_code,
            target, progress_mode, default_assigned, reward_type, reward_id, reward_quantity,
            prerequisites, rotation_enabled, rotation_schedule, rotation_reset_progress,
            rotation_allow_reselection, position, retired_at
        )
        SELECT
            i.goal_id, i.challenge_id, i.name, i.description, i.goal_type, i.is_daily, i.event_source,
            i.stat_code, i.target, i.progress_mode, i.default_assigned, i.reward_type, i.reward_id,
            i.reward_quantity, i.prerequisites, i.rotation_enabled, i.rotation_schedule,
            i.rotation_reset_progress, i.rotation_allow_reselection, i.position, NULL
        FROM incoming AS i
        ORDER BY i.goal_id
        ON CONFLICT (goal_id) DO UPDATE
        SET
            challenge_id = excluded.challenge_id,
            name = excluded.name,
            description = excluded.description,
            goal_type = excluded.goal_type,
            is_daily = excluded.is_daily,
            event_source = excluded.event_source,
            stat_code = excluded.stat_code,
            target = excluded.target,
            progress_mode = excluded.progress_mode,
            default_assigned = excluded.default_assigned,
            reward_type = excluded.reward_type,
            reward_id = excluded.reward_id,
            reward_quantity = excluded.reward_quantity,
            prerequisites = excluded.prerequisites,
            rotation_enabled = excluded.rotation_enabled,
            rotation_schedule = excluded.rotation_schedule,
            rotation_reset_progress = excluded.rotation_reset_progress,
            rotation_allow_reselection = excluded.rotation_allow_reselection,
            position = excluded.position,
            retired_at = NULL,
            updated_at = now()
        WHERE (
            g.challenge_id, g.name, g.description, g.goal_type, g.is_daily, g.event_source, g.stat_code,
            g.target, g.progress_mode, g.default_assigned, g.reward_type, g.reward_id, g.reward_quantity,
            g.prerequisites, g.rotation_enabled, g.rotation_schedule, g.rotation_reset_progress,
            g.rotation_allow_reselection, g.position, g.retired_at
        ) IS DISTINCT FROM (
            excluded.challenge_id, excluded.name, excluded.description, excluded.goal_type,
            excluded.is_daily, excluded.event_source, excluded.stat_code, excluded.target,
            excluded.progress_mode, excluded.default_assigned, excluded.reward_type, excluded.reward_id,
            excluded.reward_quantity, excluded.prerequisites, excluded.rotation_enabled,
            excluded.rotation_schedule, excluded.rotation_reset_progress,
            excluded.rotation_allow_reselection, excluded.position, NULL::timestamptz
        )
        RETURNING g.goal_id
    )
    SELECT
        coalesce(jsonb_agg(u.goal_id ORDER BY u.goal_id) FILTER (
            WHERE p.goal_id IS NULL OR p.retired_at IS NOT NULL
        ), '[]'),
        -- A goal that only moved within the document is rewritten (position) but not reported.
        coalesce(jsonb_agg(u.goal_id ORDER BY u.goal_id) FILTER (
            WHERE p.goal_id IS NOT NULL AND p.retired_at IS NULL
                AND (
                    p.challenge_id, p.name, p.description, p.goal_type, p.is_daily, p.event_source,
                    p.stat_code, p.target, p.progress_mode, p.default_assigned, p.reward_type,
                    p.reward_id, p.reward_quantity, p.prerequisites, p.rotation_enabled,
                    p.rotation_schedule, p.rotation_reset_progress, p.rotation_allow_reselection
                ) IS DISTINCT FROM (
                    i.challenge_id, i.name, i.description, i.goal_type, i.is_daily, i.event_source,
                    i.stat_code, i.target, i.progress_mode, i.default_assigned, i.reward_type,
                    i.reward_id, i.reward_quantity, i.prerequisites, i.rotation_enabled,
                    i.rotation_schedule, i.rotation_reset_progress, i.rotation_allow_reselection
                )
        ), '[]')
    INTO v_added, v_updated
    FROM upserted AS u
    JOIN incoming AS i ON i.goal_id = u.goal_id
    LEFT JOIN previous AS p ON p.goal_id = u.goal_id;

    WITH retired AS (
        UPDATE challenge.goals AS g
        SET
            retired_at = now(),
            updated_at = now()
        WHERE g.retired_at IS NULL
            AND NOT g.goal_id = ANY (v_goal_ids)
        RETURNING g.goal_id
    )
    SELECT coalesce(jsonb_agg(r.goal_id ORDER BY r.goal_id), '[]')
    INTO v_retired
    FROM retired AS r;

    UPDATE challenge.challenges AS c
    SET
        retired_at = now(),
        updated_at = now()
    WHERE c.retired_at IS NULL
        AND NOT c.challenge_id = ANY (v_challenge_ids);

    RETURN jsonb_build_object(
        'challenges', jsonb_array_length(v_challenge_rows),
        'goals', jsonb_array_length(v_goals),
        'added', v_added,
        'updated', v_updated,
        'retired', v_retired
    );
END;
$function$;
