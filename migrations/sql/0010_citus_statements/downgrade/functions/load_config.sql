-- challenge.load_config(p_config jsonb) RETURNS jsonb
--
-- Loads the game's challenge definitions from a document shaped like the reference's challenges.json
-- (camelCase keys). Validates everything first; the first problem raises CH001 invalid_config naming
-- its JSON path (e.g. "challenges[0].goals[2].requirement.targetValue must be a positive integer")
-- and nothing changes. Each object is checked in document order, an unknown key included (only name,
-- description, requirement.operator ">=" and rotation.type "global" are accepted without a meaning of
-- their own); then the rules across objects: duplicate ids, prerequisites that are unknown or the goal
-- itself, prerequisite cycles (the message lists the cycle). Validation is linear in the size of the
-- document, prerequisite graph included. Loading is idempotent and transactional: goals are updated in
-- place (a new target applies to later writes), goals missing from the document are retired (their
-- progress rows stay; writes report unknown_goal; they can no longer be assigned). Returns
--   {"challenges": n, "goals": n, "added": [...], "updated": [...], "retired": [...], (goal ids)
--    "version": n, "digest": "..."}
-- version counts the loads so far and digest is the document's SHA-256 (as jsonb normalises it); both are
-- recorded in challenge.config_loads, which challenge.status reports.
-- Concurrent loads are serialised by a lock on the catalog; writers and readers are not blocked.
CREATE OR REPLACE FUNCTION challenge.load_config(p_config jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_challenges jsonb;
    v_challenge jsonb;
    v_goal jsonb;
    v_path text;
    v_goal_path text;
    v_unknown text;
    v_known text[];
    v_challenge_ids text[] := '{}'::text[];
    v_goal_ids text[] := '{}'::text[];
    v_goal_paths text[] := '{}'::text[];
    v_goal_docs jsonb[] := '{}'::jsonb[];
    v_goals jsonb;
    v_challenge_rows jsonb[] := '{}'::jsonb[];
    v_normalised jsonb;
    v_position integer := 0;
    v_count integer;
    v_problem_at integer;
    v_problem text;
    v_index jsonb;
    v_prerequisite integer[];
    v_version bigint;
    v_digest text;
    v_first_prerequisite integer[];
    v_state integer[];
    v_cursor integer[];
    v_stack integer[];
    v_depth integer;
    v_node integer;
    v_next integer;
    v_cycle integer[];
    v_cycle_text text;
    v_added jsonb;
    v_updated jsonb;
    v_retired jsonb;
BEGIN
    IF p_config IS NULL OR jsonb_typeof(p_config) <> 'object' THEN
        PERFORM challenge._config_error('(document)', 'must be a JSON object with a "challenges" array');
    END IF;
    -- Unknown keys are rejected at every level (here, per challenge, and per goal in _config_goal): a key
    -- the loader ignored could have been meant to change something.
    SELECT k.key
    INTO v_unknown
    FROM jsonb_object_keys(p_config) AS k(key)
    WHERE k.key <> 'challenges'
    ORDER BY k.key
    LIMIT 1;
    IF v_unknown IS NOT NULL THEN
        PERFORM challenge._config_error(
            CASE
                WHEN v_unknown ~ '^[A-Za-z_][A-Za-z0-9_]*$' THEN v_unknown
                ELSE '[' || to_jsonb(v_unknown)::text || ']'
            END,
            'is not a known key (known: challenges)'
        );
    END IF;
    v_challenges := p_config -> 'challenges';
    IF jsonb_typeof(v_challenges) IS DISTINCT FROM 'array' OR jsonb_array_length(v_challenges) = 0 THEN
        PERFORM challenge._config_error('challenges', 'must be a non-empty array');
    END IF;

    -- Each object on its own first, in document order; then the rules across objects (duplicate ids,
    -- prerequisites), each found in one pass over the whole document.
    FOR v_ci IN 0 .. jsonb_array_length(v_challenges) - 1 LOOP
        v_challenge := v_challenges -> v_ci;
        v_path := format('challenges[%s]', v_ci);
        IF jsonb_typeof(v_challenge) IS DISTINCT FROM 'object' THEN
            PERFORM challenge._config_error(v_path, 'must be an object');
        END IF;
        v_known := ARRAY['challengeId', 'name', 'description', 'goals'];
        SELECT
            v_path || CASE
                WHEN k.key ~ '^[A-Za-z_][A-Za-z0-9_]*$' THEN '.' || k.key
                ELSE '[' || to_jsonb(k.key)::text || ']'
            END
        INTO v_unknown
        FROM jsonb_object_keys(v_challenge) AS k(key)
        WHERE NOT k.key = ANY (v_known)
        ORDER BY k.key
        LIMIT 1;
        IF v_unknown IS NOT NULL THEN
            PERFORM challenge._config_error(
                v_unknown, format('is not a known key (known: %s)', array_to_string(v_known, ', '))
            );
        END IF;
        IF jsonb_typeof(v_challenge -> 'challengeId') IS DISTINCT FROM 'string'
            OR length(v_challenge ->> 'challengeId') NOT BETWEEN 1 AND 100
        THEN
            PERFORM challenge._config_error(v_path || '.challengeId', 'must be a string of 1 to 100 characters');
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

        -- One pass over the goals array (indexing it per goal would copy the challenge each time), and
        -- plpgsql arrays appended in place: the work stays linear in the size of the document.
        FOR v_goal, v_goal_path IN
            SELECT e.value, format('%s.goals[%s]', v_path, e.n - 1)
            FROM jsonb_array_elements(v_challenge -> 'goals') WITH ORDINALITY AS e(value, n)
            ORDER BY e.n
        LOOP
            v_normalised := challenge._config_goal(v_goal, v_goal_path);
            v_goal_ids := v_goal_ids || (v_normalised ->> 'goal_id');
            v_goal_paths := v_goal_paths || v_goal_path;
            v_goal_docs := v_goal_docs || (v_normalised || jsonb_build_object(
                'challenge_id', v_challenge ->> 'challengeId',
                'position', v_position
            ));
            v_position := v_position + 1;
        END LOOP;
    END LOOP;
    v_count := cardinality(v_goal_ids);

    -- Duplicate ids: the first repeat in document order.
    v_problem_at := challenge._first_repeat(v_challenge_ids);
    IF v_problem_at IS NOT NULL THEN
        PERFORM challenge._config_error(
            format('challenges[%s].challengeId', v_problem_at - 1),
            format('duplicates challenge id %s', v_challenge_ids[v_problem_at])
        );
    END IF;
    v_problem_at := challenge._first_repeat(v_goal_ids);
    IF v_problem_at IS NOT NULL THEN
        PERFORM challenge._config_error(
            v_goal_paths[v_problem_at] || '.goalId',
            format(
                'duplicates goal id %s (goal ids are unique across all challenges)', v_goal_ids[v_problem_at]
            )
        );
    END IF;

    -- Prerequisites: each exists and is not the goal itself (the first problem in document order), and
    -- together they form no cycle. Goals are numbered 1..v_count in document order and found by id in
    -- v_index (a jsonb object: a binary search, no join whose plan could turn quadratic when a session's
    -- generic plan guesses the size of an array).
    SELECT jsonb_object_agg(u.goal_id, u.n)
    INTO v_index
    FROM unnest(v_goal_ids) WITH ORDINALITY AS u(goal_id, n);
    SELECT
        d.n::integer,
        CASE
            WHEN (v_index ->> p.prerequisite)::integer = d.n
                THEN format('must not name the goal itself (%s)', p.prerequisite)
            ELSE format('names unknown goal %s', p.prerequisite)
        END
    INTO v_problem_at, v_problem
    FROM unnest(v_goal_docs) WITH ORDINALITY AS d(doc, n)
    CROSS JOIN LATERAL jsonb_array_elements_text(d.doc -> 'prerequisites')
        WITH ORDINALITY AS p(prerequisite, k)
    WHERE NOT v_index ? p.prerequisite
        OR (v_index ->> p.prerequisite)::integer = d.n
    ORDER BY d.n, p.k
    LIMIT 1;
    IF v_problem_at IS NOT NULL THEN
        PERFORM challenge._config_error(v_goal_paths[v_problem_at] || '.prerequisites', v_problem);
    END IF;

    -- The graph as adjacency arrays: goal g's prerequisites are
    -- v_prerequisite[v_first_prerequisite[g] + 1 .. v_first_prerequisite[g + 1]].
    SELECT
        coalesce(array_agg((v_index ->> p.prerequisite)::integer ORDER BY d.n, p.k), '{}')
    INTO v_prerequisite
    FROM unnest(v_goal_docs) WITH ORDINALITY AS d(doc, n)
    CROSS JOIN LATERAL jsonb_array_elements_text(d.doc -> 'prerequisites')
        WITH ORDINALITY AS p(prerequisite, k);
    SELECT array_agg(c.before ORDER BY c.n) || cardinality(v_prerequisite)
    INTO v_first_prerequisite
    FROM (
        SELECT
            d.n,
            (sum(jsonb_array_length(d.doc -> 'prerequisites')) OVER (ORDER BY d.n)
                - jsonb_array_length(d.doc -> 'prerequisites'))::integer AS before
        FROM unnest(v_goal_docs) WITH ORDINALITY AS d(doc, n)
    ) AS c;

    -- Cycles: a depth-first search from each goal in document order, following prerequisites, with an
    -- explicit stack; reaching a goal still on the stack closes a cycle. Every goal is entered once and
    -- every prerequisite followed once: linear in goals + prerequisites, whatever the shape of the graph
    -- (the walk over every path this replaces took 13 s for a 40-goal quest line).
    v_state := array_fill(0, ARRAY[v_count]);  -- 0 not seen, n > 0 on the stack at depth n, -1 done
    v_cursor := v_first_prerequisite[1:v_count];
    v_stack := array_fill(0, ARRAY[v_count]);
    FOR v_root IN 1 .. v_count LOOP
        CONTINUE WHEN v_state[v_root] <> 0;
        v_depth := 1;
        v_stack[1] := v_root;
        v_state[v_root] := 1;
        WHILE v_depth > 0 LOOP
            v_node := v_stack[v_depth];
            IF v_cursor[v_node] = v_first_prerequisite[v_node + 1] THEN
                v_state[v_node] := -1;
                v_depth := v_depth - 1;
                CONTINUE;
            END IF;
            v_cursor[v_node] := v_cursor[v_node] + 1;
            v_next := v_prerequisite[v_cursor[v_node]];
            IF v_state[v_next] = 0 THEN
                v_depth := v_depth + 1;
                v_stack[v_depth] := v_next;
                v_state[v_next] := v_depth;
            ELSIF v_state[v_next] > 0 THEN
                v_cycle := v_stack[v_state[v_next]:v_depth];
                EXIT;
            END IF;
        END LOOP;
        EXIT WHEN v_cycle IS NOT NULL;
    END LOOP;

    IF v_cycle IS NOT NULL THEN
        -- Named from its goal that comes first in the document, as goal -> prerequisite -> ... -> goal.
        v_problem_at := (SELECT min(c.n) FROM unnest(v_cycle) AS c(n));
        v_next := array_position(v_cycle, v_problem_at);
        v_cycle := v_cycle[v_next:] || v_cycle[:v_next - 1];
        -- A long cycle is shortened to its first ten goals, a count, and its last goal.
        SELECT string_agg(c.goal_id, ' -> ' ORDER BY c.i)
        INTO v_cycle_text
        FROM (
            SELECT m.i::numeric AS i, v_goal_ids[m.n] AS goal_id
            FROM unnest(v_cycle) WITH ORDINALITY AS m(n, i)
            WHERE cardinality(v_cycle) <= 12 OR m.i <= 10 OR m.i = cardinality(v_cycle)
            UNION ALL
            SELECT 10.5, format('... (%s more)', cardinality(v_cycle) - 11)
            WHERE cardinality(v_cycle) > 12
            UNION ALL
            SELECT cardinality(v_cycle) + 1, v_goal_ids[v_problem_at]
        ) AS c;
        PERFORM challenge._config_error(
            v_goal_paths[v_problem_at] || '.prerequisites',
            format('form a cycle: %s', v_cycle_text)
        );
    END IF;
    v_goals := to_jsonb(v_goal_docs);

    -- Valid: apply. One loader at a time; EXCLUSIVE does not block readers or progress writers.
    LOCK TABLE challenge.challenges, challenge.goals IN EXCLUSIVE MODE;

    INSERT INTO challenge.challenges AS c (challenge_id, name, description, position, retired_at)
    SELECT r.challenge_id, r.name, r.description, r.position, NULL
    FROM jsonb_to_recordset(to_jsonb(v_challenge_rows))
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
            AND NOT v_index ? g.goal_id
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

    INSERT INTO challenge.config_loads (loaded_at, digest, challenges, goals)
    VALUES (now(), encode(sha256(convert_to(p_config::text, 'UTF8')), 'hex'), cardinality(v_challenge_rows), v_count)
    RETURNING version, digest INTO v_version, v_digest;

    RETURN jsonb_build_object(
        'challenges', cardinality(v_challenge_rows),
        'goals', v_count,
        'added', v_added,
        'updated', v_updated,
        'retired', v_retired,
        'version', v_version,
        'digest', v_digest
    );
END;
$function$;
