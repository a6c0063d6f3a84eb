"""Revision 0009's group roles and default privileges, migrated up and down on real databases.

Roles are cluster-wide: every test works under a prefix of its own (``Cluster.prefix``, tests/rolehelpers.py)
and the ``cluster`` fixture drops its databases first, then every role whose name starts with that prefix,
even when the test failed half-way. Each test's databases are made from template0 (never the shared
template, whose default role names other tests' databases use).
"""

from __future__ import annotations

import argparse
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest
import sqlalchemy
import sqlalchemy.pool
from alembic import command
from alembic.script import ScriptDirectory
from pgchallenge import embedded, migrate
from psycopg import sql

from tests.rolehelpers import ROLE_KINDS, Cluster, prefixed_cluster

BEFORE = "0008_write_engine"
HEAD = ScriptDirectory.from_config(migrate.alembic_config("")).get_current_head()


@pytest.fixture
def cluster(postgresql_proc: Any) -> Iterator[Cluster]:
    with prefixed_cluster(postgresql_proc, "rt") as cluster:
        yield cluster


@pytest.fixture
def notices() -> Iterator[list[str]]:
    """The NOTICE messages of every connection Alembic opens during the test."""
    received: list[str] = []

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        assert isinstance(dbapi_connection, psycopg.Connection)
        dbapi_connection.add_notice_handler(lambda diag: received.append(diag.message_primary or ""))

    sqlalchemy.event.listen(sqlalchemy.pool.Pool, "connect", on_connect)
    try:
        yield received
    finally:
        sqlalchemy.event.remove(sqlalchemy.pool.Pool, "connect", on_connect)


def alembic_upgrade(
    url: str, revision: str = "head", *, x: Sequence[str] = (), role_prefix: str | None = None
) -> None:
    """``alembic -x ... upgrade``, with the configuration pgchallenge.migrate builds."""
    config = migrate.alembic_config(url, role_prefix=role_prefix)
    config.cmd_opts = argparse.Namespace(x=list(x))
    command.upgrade(config, revision)


# --- reading the database -------------------------------------------------------------------------------


def query(url: str, statement: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement, params).fetchall()


def execute(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def revision(url: str) -> str | None:
    [(exists,)] = query(url, "SELECT to_regclass('challenge.alembic_version') IS NOT NULL")
    if not exists:
        return None
    [(version,)] = query(url, "SELECT string_agg(version_num, ',') FROM challenge.alembic_version")
    return None if version is None else str(version)


def deployment_roles(url: str) -> dict[str, tuple[str, bool]] | None:
    """challenge.deployment_roles by kind, or None where the table does not exist."""
    [(exists,)] = query(url, "SELECT to_regclass('challenge.deployment_roles') IS NOT NULL")
    if not exists:
        return None
    rows = query(url, "SELECT kind, role_name, created_by_migration FROM challenge.deployment_roles")
    return {str(kind): (str(name), bool(created)) for kind, name, created in rows}


def recorded(names: dict[str, str], created: bool | dict[str, bool]) -> dict[str, tuple[str, bool]]:
    flags = created if isinstance(created, dict) else dict.fromkeys(names, created)
    return {kind: (name, flags[kind]) for kind, name in names.items()}


GRANTEE = (
    "CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
    " ELSE (SELECT r.rolname FROM pg_catalog.pg_roles AS r WHERE r.oid = a.grantee) END"
)


def function_grants(url: str) -> dict[str, set[str]]:
    """Who besides the owner may execute each function of schema challenge (PUBLIC included)."""
    rows = query(
        url,
        f"SELECT p.proname, array_remove(array_agg(DISTINCT {GRANTEE}), NULL)"
        " FROM pg_catalog.pg_proc AS p"
        " CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a"
        " WHERE p.pronamespace = 'challenge'::regnamespace AND a.grantee <> p.proowner"
        "     AND a.privilege_type = 'EXECUTE'"
        " GROUP BY p.proname",
    )
    granted = {str(name): set(grantees) for name, grantees in rows}
    [(names,)] = query(
        url, "SELECT array_agg(DISTINCT proname) FROM pg_proc WHERE pronamespace = 'challenge'::regnamespace"
    )
    return {str(name): granted.get(str(name), set()) for name in names}


def expected_function_grants(url: str, names: dict[str, str]) -> dict[str, set[str]]:
    """What challenge._access_rules declares, in role names; nothing for private functions."""
    rules = dict(query(url, "SELECT function_name, roles FROM challenge._access_rules()"))
    [(functions,)] = query(
        url, "SELECT array_agg(DISTINCT proname) FROM pg_proc WHERE pronamespace = 'challenge'::regnamespace"
    )
    return {str(f): {names[kind] for kind in rules.get(f, [])} for f in functions}


def schema_grants(url: str) -> set[tuple[str, str]]:
    """(grantee, privilege) on schema challenge, the owner left out."""
    rows = query(
        url,
        f"SELECT {GRANTEE}, a.privilege_type FROM pg_catalog.pg_namespace AS n"
        " CROSS JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a"
        " WHERE n.nspname = 'challenge' AND a.grantee <> n.nspowner",
    )
    return {(str(grantee), str(privilege)) for grantee, privilege in rows}


def relation_grants(url: str) -> set[tuple[str, str, str]]:
    """(relation, grantee, privilege) on challenge's tables, views and sequences; the owner left out."""
    rows = query(
        url,
        f"SELECT c.relname, {GRANTEE}, a.privilege_type FROM pg_catalog.pg_class AS c"
        " CROSS JOIN LATERAL aclexplode(coalesce(c.relacl,"
        "     acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner))) AS a"
        " WHERE c.relnamespace = 'challenge'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"
        "     AND a.grantee <> c.relowner",
    )
    return {(str(r), str(g), str(p)) for r, g, p in rows}


def assert_grants_follow_the_rules(url: str, names: dict[str, str]) -> None:
    grants = function_grants(url)
    assert grants == expected_function_grants(url, names)
    # Spot checks that do not go through _access_rules.
    assert grants["status"] == {names["reader"], names["admin"]}
    assert grants["load_config"] == {names["admin"]}
    assert grants["claim_goal"] == {names["app"]}
    assert grants["get_progress"] == set(names.values())
    assert grants["_apply_access"] == set()
    assert schema_grants(url) == {(name, "USAGE") for name in names.values()}
    assert relation_grants(url) == set()


def assert_public_executes_every_function(url: str) -> None:
    rows = query(
        url,
        "SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc AS p"
        " WHERE p.pronamespace = 'challenge'::regnamespace"
        "     AND NOT has_function_privilege('public', p.oid, 'EXECUTE')",
    )
    assert rows == []


def privileges_of(url: str, role: str) -> list[tuple[Any, ...]]:
    """Shared dependencies of ``role`` recorded in this database (privileges, ownership)."""
    return query(
        url,
        "SELECT d.classid::regclass, d.objid, d.deptype FROM pg_catalog.pg_shdepend AS d"
        " WHERE d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "     AND d.refclassid = 'pg_authid'::regclass"
        "     AND d.refobjid = (SELECT oid FROM pg_roles WHERE rolname = %s)",
        [role],
    )


def superuser(cluster: Cluster) -> str:
    [(name,)] = query(cluster.admin_url, "SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY oid LIMIT 1")
    return str(name)


# --- upgrade, downgrade, upgrade ------------------------------------------------------------------------


def test_upgrade_creates_the_roles_and_a_second_upgrade_changes_nothing(cluster: Cluster) -> None:
    url = cluster.new_database()
    names = cluster.names()
    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert revision(url) == HEAD
    assert deployment_roles(url) == recorded(names, True)
    assert cluster.roles() == set(names.values())
    attributes = query(
        cluster.admin_url,
        "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolinherit"
        " FROM pg_roles WHERE starts_with(rolname, %s)",
        [cluster.prefix],
    )
    assert {row[1:] for row in attributes} == {(False, False, False, False, True)}
    assert_grants_follow_the_rules(url, names)
    before = (function_grants(url), schema_grants(url), query(url, "SELECT * FROM pg_default_acl"))

    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert revision(url) == HEAD
    assert deployment_roles(url) == recorded(names, True)
    assert (function_grants(url), schema_grants(url), query(url, "SELECT * FROM pg_default_acl")) == before


def test_upgrade_downgrade_to_0008_upgrade_again(cluster: Cluster, notices: list[str]) -> None:
    url = cluster.new_database()
    names = cluster.names()
    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert deployment_roles(url) == recorded(names, True)
    assert_grants_follow_the_rules(url, names)

    migrate.downgrade(url, BEFORE)
    assert revision(url) == BEFORE
    assert deployment_roles(url) is None
    assert cluster.roles() == set()
    assert_public_executes_every_function(url)
    assert not any("kept role" in notice for notice in notices), notices

    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert revision(url) == HEAD
    assert deployment_roles(url) == recorded(names, True)
    assert cluster.roles() == set(names.values())
    assert_grants_follow_the_rules(url, names)


# --- reusing and keeping roles --------------------------------------------------------------------------


def test_existing_roles_are_reused_and_kept_by_downgrade(cluster: Cluster, notices: list[str]) -> None:
    names = cluster.names()
    for name in names.values():
        cluster.create_role(name)
    login = cluster.create_role(f"{cluster.prefix}_svc", "LOGIN")
    cluster.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(names["app"]), sql.Identifier(login)))
    url = cluster.new_database()

    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert deployment_roles(url) == recorded(names, False)
    assert_grants_follow_the_rules(url, names)

    migrate.downgrade(url, BEFORE)
    assert cluster.roles() == {*names.values(), login}
    assert cluster.members(names["app"]) == {login}
    assert_public_executes_every_function(url)
    # The reused roles lost this revision's grants in this database.
    for name in names.values():
        assert privileges_of(url, name) == [], name
    assert not any("kept role" in notice for notice in notices), notices  # not created: not even tried

    migrate.upgrade(url, role_prefix=cluster.prefix)
    migrate.downgrade(url, "base")
    assert revision(url) is None
    assert cluster.roles() == {*names.values(), login}


def test_downgrade_drops_created_roles_but_keeps_one_with_a_member(
    cluster: Cluster, notices: list[str]
) -> None:
    url = cluster.new_database()
    names = cluster.names()
    migrate.upgrade(url, role_prefix=cluster.prefix)
    login = cluster.create_role(f"{cluster.prefix}_reporting", "LOGIN")
    cluster.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(names["reader"]), sql.Identifier(login)))

    migrate.downgrade(url, BEFORE)
    assert cluster.roles() == {names["reader"], login}
    assert cluster.members(names["reader"]) == {login}
    assert f"kept role {names['reader']}: it has members" in notices
    # Kept, but without this revision's grants: on the schema, the functions, anything in this database.
    assert privileges_of(url, names["reader"]) == []
    assert {grantee for grantees in function_grants(url).values() for grantee in grantees} == {"PUBLIC"}
    assert_public_executes_every_function(url)

    migrate.downgrade(url, "base")
    assert revision(url) is None
    assert cluster.roles() == {names["reader"], login}


def test_downgrade_keeps_roles_another_database_uses(cluster: Cluster, notices: list[str]) -> None:
    first, second = cluster.new_database(), cluster.new_database()
    names = cluster.names()
    migrate.upgrade(first, role_prefix=cluster.prefix)
    migrate.upgrade(second, role_prefix=cluster.prefix)
    assert deployment_roles(first) == recorded(names, True)
    assert deployment_roles(second) == recorded(names, False)
    assert_grants_follow_the_rules(second, names)

    migrate.downgrade(first, "base")  # no failure
    assert revision(first) is None
    assert cluster.roles() == set(names.values())
    for name in names.values():
        expected = f'kept role {name}: role "{name}" cannot be dropped because some objects depend on it'
        assert expected in notices
    # The second deployment still works with its roles.
    assert revision(second) == HEAD
    assert_grants_follow_the_rules(second, names)


def test_downgrade_base_drops_the_roles_it_created(cluster: Cluster) -> None:
    url = cluster.new_database()
    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert cluster.roles() == set(cluster.names().values())
    migrate.downgrade(url, "base")
    assert revision(url) is None
    assert cluster.roles() == set()


def test_downgrade_after_a_role_was_dropped_by_hand(cluster: Cluster, notices: list[str]) -> None:
    url = cluster.new_database()
    names = cluster.names()
    migrate.upgrade(url, role_prefix=cluster.prefix)
    execute(url, f'DROP OWNED BY "{names["admin"]}"')
    cluster.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(names["admin"])))

    migrate.downgrade(url, "base")
    assert revision(url) is None
    assert cluster.roles() == set()
    assert not any("kept role" in notice for notice in notices), notices


# --- naming the roles -----------------------------------------------------------------------------------


def test_x_arguments_name_single_roles_and_the_prefix(cluster: Cluster) -> None:
    url = cluster.new_database()
    custom = f"{cluster.prefix}_writers"
    alembic_upgrade(url, x=[f"role_prefix={cluster.prefix}_x", f"app_role={custom}"])
    names = cluster.names(f"{cluster.prefix}_x") | {"app": custom}
    assert deployment_roles(url) == recorded(names, True)
    assert_grants_follow_the_rules(url, names)
    migrate.downgrade(url, BEFORE)
    assert cluster.roles() == set()

    # All three by name; -x wins over role_prefix (pgchallenge migrate --role-prefix).
    names = {kind: f"{cluster.prefix}_{kind}_named" for kind in ROLE_KINDS}
    alembic_upgrade(
        url, x=[f"{kind}_role={name}" for kind, name in names.items()], role_prefix=f"{cluster.prefix}_z"
    )
    assert deployment_roles(url) == recorded(names, True)
    assert cluster.roles() == set(names.values())


def test_prefix_sources_in_order(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    url = cluster.new_database()
    monkeypatch.setenv("PGCHALLENGE_ROLE_PREFIX", f"{cluster.prefix}_env")
    migrate.upgrade(url)
    assert deployment_roles(url) == recorded(cluster.names(f"{cluster.prefix}_env"), True)
    migrate.downgrade(url, BEFORE)

    migrate.upgrade(url, role_prefix=f"{cluster.prefix}_opt")  # the main option beats the environment
    assert deployment_roles(url) == recorded(cluster.names(f"{cluster.prefix}_opt"), True)
    migrate.downgrade(url, BEFORE)

    alembic_upgrade(url, x=[f"role_prefix={cluster.prefix}_x"], role_prefix=f"{cluster.prefix}_opt")
    assert deployment_roles(url) == recorded(cluster.names(f"{cluster.prefix}_x"), True)
    assert cluster.roles() == set(cluster.names(f"{cluster.prefix}_x").values())


def test_a_prefix_that_needs_quoting(cluster: Cluster) -> None:
    url = cluster.new_database()
    prefix = f"{cluster.prefix} Q'u\"o%te"
    names = cluster.names(prefix)
    migrate.upgrade(url, role_prefix=prefix)
    assert deployment_roles(url) == recorded(names, True)
    assert cluster.roles() == set(names.values())
    assert_grants_follow_the_rules(url, names)
    migrate.downgrade(url, "base")
    assert cluster.roles() == set()


def assert_refused_and_unchanged(
    cluster: Cluster, url: str, exc: BaseException, *, role: str, words: Sequence[str]
) -> None:
    assert isinstance(exc, psycopg.Error), repr(exc)
    assert exc.sqlstate == "CH003", exc
    message = exc.diag.message_primary or ""
    assert role in message, message
    for word in words:
        assert word in message, message
    assert revision(url) == BEFORE
    assert deployment_roles(url) is None
    assert cluster.roles() == set()
    assert query(url, "SELECT * FROM pg_default_acl") == []


def test_a_superuser_is_refused_and_nothing_changes(cluster: Cluster) -> None:
    url = cluster.new_database()
    migrate.upgrade(url, BEFORE)
    name = superuser(cluster)
    # app and reader would be created before admin is checked: the whole migration rolls back.
    with pytest.raises(psycopg.Error) as raised:
        alembic_upgrade(url, x=[f"admin_role={name}"], role_prefix=cluster.prefix)
    assert_refused_and_unchanged(cluster, url, raised.value, role=name, words=["superuser", "admin"])
    assert "admin_role" in (raised.value.diag.message_hint or "")

    # The database is fine: the same upgrade with a proper name goes through.
    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert deployment_roles(url) == recorded(cluster.names(), True)


def test_a_name_longer_than_63_bytes_is_refused(cluster: Cluster) -> None:
    url = cluster.new_database()
    migrate.upgrade(url, BEFORE)
    name = cluster.prefix + "é" * 30  # 30 characters, 60 bytes
    with pytest.raises(psycopg.Error) as raised:
        alembic_upgrade(url, x=[f"reader_role={name}"], role_prefix=cluster.prefix)
    assert_refused_and_unchanged(cluster, url, raised.value, role=name, words=["longer than 63 bytes"])


def test_one_role_for_two_kinds_is_refused(cluster: Cluster) -> None:
    url = cluster.new_database()
    migrate.upgrade(url, BEFORE)
    shared = f"{cluster.prefix}_shared"
    with pytest.raises(psycopg.Error) as raised:
        alembic_upgrade(url, x=[f"app_role={shared}", f"reader_role={shared}"])
    assert raised.value.sqlstate == "CH003"
    assert raised.value.diag.message_primary == (
        f"invalid argument: role {shared} is named for two kinds (app and reader)"
    )
    assert revision(url) == BEFORE
    assert deployment_roles(url) is None
    assert cluster.roles() == set()


# --- default privileges ---------------------------------------------------------------------------------


def public_executes_a_new_function(url: str, schema: str = "public") -> bool:
    """Create a function as the migrating role, in ``schema``; may PUBLIC execute it?"""
    name = f"probe_{uuid.uuid4().hex[:8]}"
    target = sql.SQL("{}.{}()").format(sql.Identifier(schema), sql.Identifier(name))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE FUNCTION {} RETURNS integer LANGUAGE sql AS 'SELECT 1'").format(target))
        row = conn.execute(
            sql.SQL("SELECT has_function_privilege('public', {}::regprocedure, 'EXECUTE')").format(
                sql.Literal(target.as_string(conn))
            )
        ).fetchone()
        conn.execute(sql.SQL("DROP FUNCTION {}").format(target))
    assert row is not None
    return bool(row[0])


def default_acl(url: str) -> list[tuple[Any, ...]]:
    """The migrating role's default privileges in this database."""
    return query(
        url,
        "SELECT defaclnamespace::regnamespace::text, defaclobjtype, defaclacl::text FROM pg_default_acl"
        " WHERE defaclrole = current_user::regrole ORDER BY 1, 2",
    )


def deployment_settings(url: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in query(url, "SELECT name, value FROM challenge.deployment_settings")}


def test_new_functions_are_not_public_until_downgrade(cluster: Cluster) -> None:
    url = cluster.new_database()
    [(me,)] = query(url, "SELECT current_user")
    assert public_executes_a_new_function(url)
    assert default_acl(url) == []

    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert deployment_settings(url) == {"default_execute_revoked": me}
    assert not public_executes_a_new_function(url)
    assert not public_executes_a_new_function(url, "elsewhere")
    assert not public_executes_a_new_function(url, "challenge")
    assert len(default_acl(url)) == 1

    migrate.downgrade(url, "base")
    assert default_acl(url) == []
    assert public_executes_a_new_function(url)
    assert public_executes_a_new_function(url, "elsewhere")


def test_a_revoke_made_before_the_migration_stays(cluster: Cluster) -> None:
    url = cluster.new_database()
    execute(url, "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC")
    before = default_acl(url)
    assert len(before) == 1
    assert not public_executes_a_new_function(url)

    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert deployment_settings(url) == {}
    assert default_acl(url) == before

    migrate.downgrade(url, "base")
    assert default_acl(url) == before
    assert not public_executes_a_new_function(url)


def test_other_default_grants_of_the_role_come_back_as_they_were(cluster: Cluster) -> None:
    url = cluster.new_database()
    other = cluster.create_role(f"{cluster.prefix}_auditor")
    execute(url, f'ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO "{other}"')
    # A per-schema entry is no concern of the migration's.
    execute(url, f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO "{other}"')
    before = default_acl(url)
    assert public_executes_a_new_function(url)  # the role's entry still grants PUBLIC

    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert deployment_settings(url) != {}
    assert not public_executes_a_new_function(url)

    migrate.downgrade(url, "base")
    assert default_acl(url) == before
    assert public_executes_a_new_function(url)


# --- offline SQL ----------------------------------------------------------------------------------------


def test_offline_sql_sets_the_names_before_the_roles_block(cluster: Cluster) -> None:
    prefix = f"{cluster.prefix} o'q"
    names = cluster.names(prefix)
    script = migrate.upgrade_sql(migrate.sqlalchemy_url("postgresql://example/db"), role_prefix=prefix)
    lines = script.splitlines()
    positions = {}
    for kind, name in names.items():
        literal = name.replace("'", "''")
        line = f"SELECT pg_catalog.set_config('pgchallenge.{kind}_role', '{literal}', true);"
        assert line in lines, line
        positions[kind] = lines.index(line)
    assert "DO $roles$" in lines
    assert max(positions.values()) < lines.index("DO $roles$")
    assert "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;" in script

    # A DBA runs it with psql: the roles are the ones named.
    url = cluster.new_database()
    subprocess.run(
        [str(embedded.bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", url],
        input=script,
        check=True,
        capture_output=True,
        text=True,
    )
    assert revision(url) == HEAD
    assert deployment_roles(url) == recorded(names, True)
    assert_grants_follow_the_rules(url, names)


def test_offline_sql_default_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGCHALLENGE_ROLE_PREFIX", raising=False)
    script = migrate.upgrade_sql(migrate.sqlalchemy_url("postgresql://example/db"))
    for kind in ROLE_KINDS:
        assert (
            f"SELECT pg_catalog.set_config('pgchallenge.{kind}_role', 'pgchallenge_{kind}', true);" in script
        )


# --- a non-superuser owner ------------------------------------------------------------------------------


@pytest.fixture
def owner_database(cluster: Cluster) -> tuple[str, str]:
    """A LOGIN CREATEROLE role (not a superuser) and a database it owns: its conninfo as that role."""
    owner = cluster.create_role(f"{cluster.prefix}_owner", "LOGIN CREATEROLE")
    url = cluster.new_database(owner=owner)
    return owner, psycopg.conninfo.make_conninfo(url, user=owner)


def test_a_createrole_owner_migrates_and_downgrades(
    cluster: Cluster, owner_database: tuple[str, str]
) -> None:
    owner, url = owner_database
    names = cluster.names()
    [(user, is_super)] = query(
        url, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
    )
    assert (user, is_super) == (owner, False)

    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert revision(url) == HEAD
    assert deployment_roles(url) == recorded(names, True)
    assert_grants_follow_the_rules(url, names)
    assert query(
        url,
        "SELECT DISTINCT proowner::regrole::text FROM pg_proc WHERE pronamespace = 'challenge'::regnamespace",
    ) == [(owner,)]
    assert deployment_settings(url) == {"default_execute_revoked": owner}
    assert not public_executes_a_new_function(url)

    # The owner can put a login role into a group it created (it holds ADMIN OPTION on it).
    login = cluster.create_role(f"{cluster.prefix}_svc", "LOGIN")
    execute(url, f'GRANT "{names["app"]}" TO "{login}"')
    assert login in cluster.members(names["app"])
    execute(url, f'REVOKE "{names["app"]}" FROM "{login}"')

    migrate.downgrade(url, "base")
    assert revision(url) is None
    assert default_acl(url) == []
    assert public_executes_a_new_function(url)


def test_a_createrole_owner_downgrade_drops_the_roles_it_created(
    cluster: Cluster, owner_database: tuple[str, str]
) -> None:
    owner, url = owner_database
    migrate.upgrade(url, role_prefix=cluster.prefix)
    migrate.downgrade(url, "base")
    assert cluster.roles() == {owner}


# --- the ledger's switch ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "switch"), [("off", "off"), ("on", None), (None, None)])
def test_upgrade_carries_a_database_wide_ledger_setting_into_the_switch(
    cluster: Cluster, setting: str | None, switch: str | None
) -> None:
    """Before 0009 the setting switched the ledger; a database that had it off keeps the ledger off."""
    url = cluster.new_database()
    migrate.upgrade(url, BEFORE, role_prefix=cluster.prefix)
    database = query(url, "SELECT current_database()")[0][0]
    if setting is not None:
        execute(cluster.admin_url, f'ALTER DATABASE "{database}" SET pgchallenge.ledger = {setting}')
    migrate.upgrade(url, role_prefix=cluster.prefix)
    assert query(url, "SELECT value FROM challenge.deployment_settings WHERE name = 'ledger'") == (
        [] if switch is None else [(switch,)]
    )
    # The setting is then no switch of its own: only the switch (and an explicit on) decide.
    enabled = query(url, "SELECT challenge._ledger_enabled()")[0][0]
    assert enabled is (setting != "off")
