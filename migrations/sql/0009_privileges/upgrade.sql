-- 0009: least privilege. Three group roles (app, reader, admin), the functions as the only door to the data
-- (SECURITY DEFINER, granted per role kind by challenge._access_rules), nothing for PUBLIC, and what
-- challenge.status reports (config loads, an index on failed grants).

-- Least privilege (revision 0009): the deployment's three group roles, NOLOGIN, named when migrating
-- (alembic -x role_prefix=... or -x app_role=..., see the README's "Migrating a real database"):
--   app     the game service: writes, reads, claims, ingestion;
--   reader  reads, explain_progress and status, nothing that writes;
--   admin   config loading, maintenance, data deletion, the reward outbox, reads and status.
-- Which function each may execute is declared once, in challenge._access_rules, and applied by
-- challenge._apply_access; tables, views and sequences grant nothing to anyone but their owner, and
-- every public function runs with its owner's rights (SECURITY DEFINER, a pinned search_path).
-- created_by_migration: the migration created the role (a downgrade drops only those, and only while
-- nothing else depends on them).
CREATE TABLE challenge.deployment_roles (
    kind text PRIMARY KEY
        CONSTRAINT deployment_roles_kind_valid CHECK (kind IN ('app', 'reader', 'admin')),
    role_name name NOT NULL
        CONSTRAINT deployment_roles_role_name_key UNIQUE,
    created_by_migration boolean NOT NULL
);

-- What a migration changed outside this schema beyond the roles, so that a downgrade undoes exactly that:
--   default_execute_revoked  the migrating role's default privileges no longer grant EXECUTE on new
--                            functions to PUBLIC (they did before the migration).
CREATE TABLE challenge.deployment_settings (
    name text PRIMARY KEY,
    value text NOT NULL
);

-- One row per load_config call: the version a status check reports, and when it was loaded. digest: the
-- SHA-256 of the document as PostgreSQL normalises jsonb, so reloading the same config gives the same one.
CREATE TABLE challenge.config_loads (
    version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loaded_at timestamptz NOT NULL,
    digest text NOT NULL,
    challenges integer NOT NULL,
    goals integer NOT NULL
);

-- status: counting failed grants without reading the delivered ones (they are kept as claim history).
CREATE INDEX reward_grants_failed_idx ON challenge.reward_grants (finished_at) WHERE state = 'failed';

-- The ledger's switch moves from the setting pgchallenge.ledger, which any session could turn off for
-- itself, to challenge.set_ledger. A deployment that had the setting off for its database (or for the
-- migrating role) keeps the ledger off.
INSERT INTO challenge.deployment_settings (name, value)
SELECT 'ledger', 'off'
WHERE pg_catalog.lower(pg_catalog.btrim(coalesce(pg_catalog.current_setting('pgchallenge.ledger', true), '')))
    IN ('off', 'false', 'no', '0');

-- The group roles, NOLOGIN. Their names come from the settings pgchallenge.app_role, .reader_role and
-- .admin_role, which the revision's Python code sets from alembic -x role_prefix=... / -x app_role=...
-- (defaults pgchallenge_app, pgchallenge_reader, pgchallenge_admin). A role that exists is reused.
DO $roles$
DECLARE
    v_kind text;
    v_name text;
    v_created boolean;
BEGIN
    FOREACH v_kind IN ARRAY ARRAY['app', 'reader', 'admin'] LOOP
        v_name := coalesce(
            nullif(pg_catalog.current_setting('pgchallenge.' || v_kind || '_role', true), ''),
            'pgchallenge_' || v_kind
        );
        IF pg_catalog.octet_length(v_name) > 63 THEN
            RAISE EXCEPTION USING
                ERRCODE = 'CH003',
                MESSAGE = pg_catalog.format('invalid argument: role name %s is longer than 63 bytes', v_name);
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.rolname = v_name AND r.rolsuper) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'CH003',
                MESSAGE = pg_catalog.format('invalid argument: role %s is a superuser; the %s role must not be',
                                            v_name, v_kind),
                HINT = 'Name another role with alembic -x ' || v_kind || '_role=NAME.';
        END IF;
        v_created := false;
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.rolname = v_name) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', v_name);
                v_created := true;
            EXCEPTION
                WHEN duplicate_object THEN
                    NULL;  -- created meanwhile by the migration of another database: reuse it
                WHEN insufficient_privilege THEN
                    RAISE EXCEPTION USING
                        ERRCODE = 'insufficient_privilege',
                        MESSAGE = pg_catalog.format('cannot create role %s: the migrating role lacks CREATEROLE',
                                                    v_name),
                        HINT = 'Create the three roles first (CREATE ROLE name NOLOGIN), or migrate as a role '
                            'with CREATEROLE.';
            END;
        END IF;
        IF EXISTS (SELECT FROM challenge.deployment_roles AS r WHERE r.role_name = v_name) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'CH003',
                MESSAGE = pg_catalog.format('invalid argument: role %s is named for two kinds (%s and %s)',
                    v_name, (SELECT r.kind FROM challenge.deployment_roles AS r WHERE r.role_name = v_name),
                    v_kind),
                HINT = 'Each of app, reader and admin needs a role of its own.';
        END IF;
        INSERT INTO challenge.deployment_roles (kind, role_name, created_by_migration)
        VALUES (v_kind, v_name, v_created);
    END LOOP;
END;
$roles$;

-- Functions the migrating role creates later in this database grant nothing to PUBLIC (PostgreSQL's
-- default grants EXECUTE). Only where that default still applies, and recorded, so that a downgrade
-- restores exactly it. (A per-schema default cannot revoke a built-in one: this is per role and database.)
DO $defaults$
BEGIN
    IF NOT EXISTS (
        SELECT
        FROM pg_catalog.pg_default_acl AS d
        WHERE d.defaclrole = (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)
            AND d.defaclnamespace = 0
            AND d.defaclobjtype = 'f'
    ) OR EXISTS (
        SELECT
        FROM pg_catalog.pg_default_acl AS d
        CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) AS a
        WHERE d.defaclrole = (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)
            AND d.defaclnamespace = 0
            AND d.defaclobjtype = 'f'
            AND a.grantee = 0
            AND a.privilege_type = 'EXECUTE'
    ) THEN
        ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
        INSERT INTO challenge.deployment_settings (name, value) VALUES ('default_execute_revoked', current_user);
    END IF;
END;
$defaults$;
