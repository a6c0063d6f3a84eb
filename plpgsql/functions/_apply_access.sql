-- challenge._apply_access() RETURNS void
--
-- Private, run by the migrations (as the owner of the schema) after every revision that adds or
-- replaces functions: makes the privileges exactly what challenge._access_rules declares.
--   - Every function in the schema: nothing for PUBLIC (PostgreSQL grants EXECUTE to PUBLIC by default)
--     nor for the three roles, then EXECUTE for the kinds its rule names; private functions get none.
--   - Tables, views, partitions and sequences: nothing for PUBLIC nor the three roles (the functions,
--     SECURITY DEFINER, are the only door).
--   - The schema: USAGE for the three roles (to call the functions), CREATE for no one but the owner.
-- Refuses (CH003) while a public function has no rule, a rule names no function, a rule names a private
-- function, or the roles are not recorded: a new function without a decision never ships silently. A
-- recorded role that no longer exists (dropped by hand) gets nothing, with a WARNING naming it.
-- Identifiers reach the dynamic statements only through %I and regprocedure's own quoting.
CREATE OR REPLACE FUNCTION challenge._apply_access()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_app name;
    v_reader name;
    v_admin name;
    v_existing name[];
    v_missing text;
    v_problem text;
    v_function record;
    v_kind text;
    v_role name;
BEGIN
    SELECT
        max(r.role_name) FILTER (WHERE r.kind = 'app'),
        max(r.role_name) FILTER (WHERE r.kind = 'reader'),
        max(r.role_name) FILTER (WHERE r.kind = 'admin')
    INTO v_app, v_reader, v_admin
    FROM challenge.deployment_roles AS r;
    IF v_app IS NULL OR v_reader IS NULL OR v_admin IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = 'invalid argument: challenge.deployment_roles must name the app, reader and admin roles';
    END IF;

    -- A recorded role dropped by hand gets no grants (there is no one to grant to), and a warning says so;
    -- the others are still put right, so an upgrade or downgrade is not stuck on it.
    SELECT string_agg(format('%s (%s)', r.role_name, r.kind), ', ' ORDER BY r.kind)
    INTO v_missing
    FROM challenge.deployment_roles AS r
    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS x WHERE x.rolname = r.role_name);
    IF v_missing IS NOT NULL THEN
        RAISE WARNING USING
            MESSAGE = format('recorded roles do not exist, nothing is granted to them: %s', v_missing),
            HINT = 'Create them (CREATE ROLE name NOLOGIN), then, as the schema owner: '
                'SELECT challenge._apply_access();';
    END IF;
    SELECT coalesce(array_agg(r.role_name ORDER BY r.kind), '{}')
    INTO v_existing
    FROM challenge.deployment_roles AS r
    WHERE EXISTS (SELECT FROM pg_catalog.pg_roles AS x WHERE x.rolname = r.role_name);

    SELECT string_agg(x.problem, '; ' ORDER BY x.problem)
    INTO v_problem
    FROM (
        SELECT format('public function challenge.%s has no rule', p.proname) AS problem
        FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = 'challenge'::regnamespace
            AND left(p.proname, 1) <> '_'
            AND NOT EXISTS (SELECT FROM challenge._access_rules() AS r WHERE r.function_name = p.proname)
        UNION ALL
        SELECT format('rule %s names no public function', r.function_name)
        FROM challenge._access_rules() AS r
        WHERE left(r.function_name, 1) = '_'
            OR NOT EXISTS (
                SELECT FROM pg_catalog.pg_proc AS p
                WHERE p.pronamespace = 'challenge'::regnamespace AND p.proname = r.function_name
            )
        UNION ALL
        SELECT format('rule %s names an unknown role kind %s', r.function_name, k.kind)
        FROM challenge._access_rules() AS r
        CROSS JOIN LATERAL unnest(r.roles) AS k (kind)
        WHERE k.kind NOT IN ('app', 'reader', 'admin')
    ) AS x;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = format('invalid argument: challenge._access_rules does not match the functions: %s',
                             v_problem),
            HINT = 'Give every public function a rule in plpgsql/functions/_access_rules.sql.';
    END IF;

    -- Everything off first, then on exactly what the rules name.
    REVOKE ALL ON SCHEMA challenge FROM PUBLIC;
    REVOKE ALL ON ALL TABLES IN SCHEMA challenge FROM PUBLIC;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA challenge FROM PUBLIC;
    REVOKE ALL ON ALL FUNCTIONS IN SCHEMA challenge FROM PUBLIC;
    FOREACH v_role IN ARRAY v_existing LOOP
        EXECUTE format('REVOKE ALL ON SCHEMA challenge FROM %I', v_role);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA challenge FROM %I', v_role);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA challenge FROM %I', v_role);
        EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA challenge FROM %I', v_role);
        EXECUTE format('GRANT USAGE ON SCHEMA challenge TO %I', v_role);
    END LOOP;

    FOR v_function IN
        SELECT p.oid::regprocedure AS signature, r.roles
        FROM pg_catalog.pg_proc AS p
        JOIN challenge._access_rules() AS r ON r.function_name = p.proname
        WHERE p.pronamespace = 'challenge'::regnamespace
        ORDER BY p.proname, p.oid
    LOOP
        FOREACH v_kind IN ARRAY v_function.roles LOOP
            v_role := CASE v_kind WHEN 'app' THEN v_app WHEN 'reader' THEN v_reader ELSE v_admin END;
            IF v_role = ANY (v_existing) THEN
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_function.signature, v_role);
            END IF;
        END LOOP;
    END LOOP;
END;
$function$;
