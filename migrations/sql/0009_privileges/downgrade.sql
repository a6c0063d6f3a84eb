-- 0009 downgrade: PUBLIC may execute every function again, the roles lose their grants, the roles this
-- revision created are dropped (only those without members and without privileges in other databases),
-- the default privileges it changed are restored, and its tables go.
DO $access$
DECLARE
    v_role record;
BEGIN
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA challenge TO PUBLIC;
    FOR v_role IN SELECT r.role_name, r.created_by_migration FROM challenge.deployment_roles AS r ORDER BY r.kind LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.rolname = v_role.role_name) THEN
            CONTINUE;
        END IF;
        EXECUTE pg_catalog.format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA challenge FROM %I', v_role.role_name);
        EXECUTE pg_catalog.format('REVOKE ALL ON SCHEMA challenge FROM %I', v_role.role_name);
        IF NOT v_role.created_by_migration THEN
            CONTINUE;
        END IF;
        -- Members other than the migrating role: on PostgreSQL 16 and later, a role created by a
        -- non-superuser with CREATEROLE counts its creator as a member (with ADMIN OPTION only).
        IF EXISTS (
            SELECT
            FROM pg_catalog.pg_auth_members AS m
            JOIN pg_catalog.pg_roles AS r ON r.oid = m.roleid
            JOIN pg_catalog.pg_roles AS member ON member.oid = m.member
            WHERE r.rolname = v_role.role_name
                AND member.rolname <> current_user
        ) THEN
            RAISE NOTICE 'kept role %: it has members', v_role.role_name;
            CONTINUE;
        END IF;
        BEGIN
            EXECUTE pg_catalog.format('DROP ROLE %I', v_role.role_name);
        EXCEPTION
            WHEN dependent_objects_still_exist THEN
                -- It holds privileges or owns objects elsewhere (another database using the same role).
                RAISE NOTICE 'kept role %: %', v_role.role_name, SQLERRM;
        END;
    END LOOP;
    IF EXISTS (SELECT FROM challenge.deployment_settings AS s WHERE s.name = 'default_execute_revoked') THEN
        EXECUTE pg_catalog.format(
            'ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT EXECUTE ON FUNCTIONS TO PUBLIC',
            (SELECT s.value FROM challenge.deployment_settings AS s WHERE s.name = 'default_execute_revoked')
        );
    END IF;
END;
$access$;

DROP INDEX challenge.reward_grants_failed_idx;
DROP TABLE challenge.config_loads;
DROP TABLE challenge.deployment_settings;
DROP TABLE challenge.deployment_roles;
