-- challenge._config_goal(p_goal jsonb, p_path text) RETURNS jsonb
--
-- Private. Validates one goal object of a load_config document (everything but the cross-goal rules:
-- uniqueness and prerequisites, which load_config checks) and returns it normalised: snake_case keys,
-- defaults applied. Raises CH001 naming the JSON path of the first problem. A key it does not know, in
-- the goal or in its requirement, reward, rotation or onExpiry, is a problem too (a typo must not fall
-- back to a default silently). As in the reference, an empty "type" or "progressMode" means absent; so do
-- an empty rotation "type" and "schedule" (Go cannot tell them from missing keys).
CREATE OR REPLACE FUNCTION challenge._config_goal(p_goal jsonb, p_path text)
RETURNS jsonb
LANGUAGE plpgsql
-- VOLATILE (the default): it raises on bad input and must never be folded at plan time.
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_requirement jsonb;
    v_reward jsonb;
    v_rotation jsonb;
    v_on_expiry jsonb;
    v_type text;
    v_daily boolean;
    v_schedule text;
    v_key text;
    v_unknown text;
    v_known text[];
BEGIN
    IF jsonb_typeof(p_goal) IS DISTINCT FROM 'object' THEN
        PERFORM challenge._config_error(p_path, 'must be an object');
    END IF;

    -- Unknown keys, outermost object first; a nested value that is not an object is reported below.
    SELECT
        o.path || CASE
            WHEN k.key ~ '^[A-Za-z_][A-Za-z0-9_]*$' THEN '.' || k.key
            ELSE '[' || to_jsonb(k.key)::text || ']'
        END,
        o.known
    INTO v_unknown, v_known
    FROM (
        VALUES
            (1, p_goal, p_path, ARRAY[
                'goalId', 'name', 'description', 'type', 'daily', 'eventSource', 'defaultAssigned',
                'requirement', 'reward', 'prerequisites', 'rotation'
            ]),
            (2, p_goal -> 'requirement', p_path || '.requirement',
                ARRAY['statCode', 'operator', 'targetValue', 'progressMode']),
            (3, p_goal -> 'reward', p_path || '.reward', ARRAY['type', 'rewardId', 'quantity']),
            (4, p_goal -> 'rotation', p_path || '.rotation',
                ARRAY['enabled', 'type', 'schedule', 'onExpiry']),
            (5, p_goal -> 'rotation' -> 'onExpiry', p_path || '.rotation.onExpiry',
                ARRAY['resetProgress', 'allowReselection'])
    ) AS o(level, value, path, known)
    CROSS JOIN LATERAL jsonb_object_keys(
        CASE WHEN jsonb_typeof(o.value) = 'object' THEN o.value ELSE '{}'::jsonb END
    ) AS k(key)
    WHERE NOT k.key = ANY (o.known)
    ORDER BY o.level, k.key
    LIMIT 1;
    IF v_unknown IS NOT NULL THEN
        PERFORM challenge._config_error(
            v_unknown, format('is not a known key (known: %s)', array_to_string(v_known, ', '))
        );
    END IF;

    FOREACH v_key IN ARRAY ARRAY['goalId', 'name'] LOOP
        IF jsonb_typeof(p_goal -> v_key) IS DISTINCT FROM 'string' OR length(p_goal ->> v_key) = 0 THEN
            PERFORM challenge._config_error(p_path || '.' || v_key, 'must be a non-empty string');
        END IF;
    END LOOP;
    IF length(p_goal ->> 'goalId') > 100 THEN
        PERFORM challenge._config_error(p_path || '.goalId', 'must be at most 100 characters');
    END IF;
    IF coalesce(jsonb_typeof(p_goal -> 'description'), 'string') NOT IN ('string', 'null') THEN
        PERFORM challenge._config_error(p_path || '.description', 'must be a string');
    END IF;

    v_type := coalesce(nullif(p_goal ->> 'type', ''), 'absolute');
    IF coalesce(jsonb_typeof(p_goal -> 'type'), 'string') NOT IN ('string', 'null')
        OR v_type NOT IN ('absolute', 'increment', 'daily')
    THEN
        PERFORM challenge._config_error(p_path || '.type', 'must be one of absolute, increment, daily');
    END IF;

    IF coalesce(jsonb_typeof(p_goal -> 'daily'), 'null') NOT IN ('boolean', 'null') THEN
        PERFORM challenge._config_error(p_path || '.daily', 'must be true or false');
    END IF;
    v_daily := coalesce((p_goal ->> 'daily')::boolean, false);
    IF v_daily AND v_type <> 'increment' THEN
        PERFORM challenge._config_error(p_path || '.daily', 'can be true only for increment goals');
    END IF;

    IF jsonb_typeof(p_goal -> 'eventSource') IS DISTINCT FROM 'string'
        OR p_goal ->> 'eventSource' NOT IN ('login', 'statistic')
    THEN
        PERFORM challenge._config_error(p_path || '.eventSource', 'must be one of login, statistic');
    END IF;

    IF coalesce(jsonb_typeof(p_goal -> 'defaultAssigned'), 'null') NOT IN ('boolean', 'null') THEN
        PERFORM challenge._config_error(p_path || '.defaultAssigned', 'must be true or false');
    END IF;

    v_requirement := p_goal -> 'requirement';
    IF jsonb_typeof(v_requirement) IS DISTINCT FROM 'object' THEN
        PERFORM challenge._config_error(p_path || '.requirement', 'must be an object');
    END IF;
    IF jsonb_typeof(v_requirement -> 'statCode') IS DISTINCT FROM 'string'
        OR length(v_requirement ->> 'statCode') = 0
    THEN
        PERFORM challenge._config_error(p_path || '.requirement.statCode', 'must be a non-empty string');
    END IF;
    IF v_requirement -> 'operator' IS DISTINCT FROM '">="'::jsonb THEN
        PERFORM challenge._config_error(p_path || '.requirement.operator', 'must be ">="');
    END IF;
    IF NOT challenge._is_positive_integer(v_requirement -> 'targetValue') THEN
        PERFORM challenge._config_error(p_path || '.requirement.targetValue', 'must be a positive integer');
    END IF;
    IF coalesce(jsonb_typeof(v_requirement -> 'progressMode'), 'null') NOT IN ('string', 'null')
        OR coalesce(nullif(v_requirement ->> 'progressMode', ''), 'absolute') NOT IN ('absolute', 'relative')
    THEN
        PERFORM challenge._config_error(
            p_path || '.requirement.progressMode', 'must be one of absolute, relative'
        );
    END IF;

    v_reward := p_goal -> 'reward';
    IF jsonb_typeof(v_reward) IS DISTINCT FROM 'object' THEN
        PERFORM challenge._config_error(p_path || '.reward', 'must be an object');
    END IF;
    IF jsonb_typeof(v_reward -> 'type') IS DISTINCT FROM 'string'
        OR v_reward ->> 'type' NOT IN ('ITEM', 'WALLET')
    THEN
        PERFORM challenge._config_error(p_path || '.reward.type', 'must be one of ITEM, WALLET');
    END IF;
    IF jsonb_typeof(v_reward -> 'rewardId') IS DISTINCT FROM 'string'
        OR length(v_reward ->> 'rewardId') = 0
    THEN
        PERFORM challenge._config_error(p_path || '.reward.rewardId', 'must be a non-empty string');
    END IF;
    IF NOT challenge._is_positive_integer(v_reward -> 'quantity') THEN
        PERFORM challenge._config_error(p_path || '.reward.quantity', 'must be a positive integer');
    END IF;

    IF coalesce(jsonb_typeof(p_goal -> 'prerequisites'), 'array') NOT IN ('array', 'null')
        OR EXISTS (
            SELECT
            FROM jsonb_array_elements(coalesce(p_goal -> 'prerequisites', '[]')) AS e(prerequisite)
            WHERE jsonb_typeof(e.prerequisite) <> 'string' OR length(e.prerequisite #>> '{}') = 0
        )
    THEN
        PERFORM challenge._config_error(p_path || '.prerequisites', 'must be an array of goal ids');
    END IF;

    v_rotation := coalesce(p_goal -> 'rotation', 'null');
    IF jsonb_typeof(v_rotation) NOT IN ('object', 'null') THEN
        PERFORM challenge._config_error(p_path || '.rotation', 'must be an object');
    END IF;
    IF coalesce(jsonb_typeof(v_rotation -> 'enabled'), 'null') NOT IN ('boolean', 'null') THEN
        PERFORM challenge._config_error(p_path || '.rotation.enabled', 'must be true or false');
    END IF;
    -- Only global rotations exist (one period for every player); anything else would run as global.
    IF coalesce(jsonb_typeof(v_rotation -> 'type'), 'null') NOT IN ('string', 'null')
        OR coalesce(nullif(v_rotation ->> 'type', ''), 'global') <> 'global'
    THEN
        PERFORM challenge._config_error(p_path || '.rotation.type', 'must be "global"');
    END IF;
    v_schedule := nullif(v_rotation ->> 'schedule', '');
    IF coalesce(jsonb_typeof(v_rotation -> 'schedule'), 'null') NOT IN ('string', 'null')
        OR (v_schedule IS NOT NULL OR coalesce((v_rotation ->> 'enabled')::boolean, false))
            AND coalesce(v_schedule, '') NOT IN ('daily', 'weekly', 'monthly')
    THEN
        PERFORM challenge._config_error(
            p_path || '.rotation.schedule', 'must be one of daily, weekly, monthly'
        );
    END IF;
    v_on_expiry := coalesce(v_rotation -> 'onExpiry', 'null');
    IF jsonb_typeof(v_on_expiry) NOT IN ('object', 'null') THEN
        PERFORM challenge._config_error(p_path || '.rotation.onExpiry', 'must be an object');
    END IF;
    FOREACH v_key IN ARRAY ARRAY['resetProgress', 'allowReselection'] LOOP
        IF coalesce(jsonb_typeof(v_on_expiry -> v_key), 'null') NOT IN ('boolean', 'null') THEN
            PERFORM challenge._config_error(p_path || '.rotation.onExpiry.' || v_key, 'must be true or false');
        END IF;
    END LOOP;

    RETURN jsonb_build_object(
        'goal_id', p_goal ->> 'goalId',
        'name', p_goal ->> 'name',
        'description', coalesce(p_goal ->> 'description', ''),
        'goal_type', v_type,
        'is_daily', v_daily,
        'event_source', p_goal ->> 'eventSource',
        'stat_code', v_requirement ->> 'statCode',
        'target', (v_requirement ->> 'targetValue')::integer,
        'progress_mode', coalesce(nullif(v_requirement ->> 'progressMode', ''), 'absolute'),
        'default_assigned', coalesce((p_goal ->> 'defaultAssigned')::boolean, false),
        'reward_type', v_reward ->> 'type',
        'reward_id', v_reward ->> 'rewardId',
        'reward_quantity', (v_reward ->> 'quantity')::integer,
        'prerequisites', coalesce(p_goal -> 'prerequisites', '[]'),
        'rotation_enabled', coalesce((v_rotation ->> 'enabled')::boolean, false),
        'rotation_schedule', v_schedule,
        'rotation_reset_progress', coalesce((v_on_expiry ->> 'resetProgress')::boolean, true),
        'rotation_allow_reselection', coalesce((v_on_expiry ->> 'allowReselection')::boolean, false)
    );
END;
$function$;
