"""Who may execute what (README "Roles and privileges"): the catalog, the declared rules and the README agree.

Every function of schema challenge: EXECUTE for exactly the kinds ``challenge._access_rules()`` names (and
the README's table shows), nothing for a private function, nothing ever for PUBLIC. Every table, view,
partition and sequence: nothing for anyone but the owner. Then the same matrix behaviourally: each login
calls each function with NULL arguments, and is refused exactly where it holds no grant.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from pgchallenge import Client

from tests.privileges.privhelpers import (
    INSUFFICIENT_PRIVILEGE,
    KINDS,
    Connect,
    Deployment,
    Login,
    access_rules,
    functions,
    readme_privileges,
    relations,
    sqlstate_of,
)

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")


def _public_may_execute(conn: psycopg.Connection[Any], oid: int) -> bool:
    """PUBLIC's EXECUTE: a NULL proacl is the default, which grants it; else an aclexplode entry for 0."""
    row = conn.execute(
        "SELECT p.proacl IS NULL OR EXISTS ("
        "   SELECT FROM pg_catalog.aclexplode(p.proacl) AS a"
        "   WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')"
        " FROM pg_catalog.pg_proc AS p WHERE p.oid = %s",
        [oid],
    ).fetchone()
    assert row is not None
    return bool(row[0])


def _may_execute(conn: psycopg.Connection[Any], role: str, oid: int) -> bool:
    row = conn.execute("SELECT has_function_privilege(%s, %s::oid, 'EXECUTE')", [role, oid]).fetchone()
    assert row is not None
    return bool(row[0])


def test_the_readme_table_is_the_declared_rules(owner: psycopg.Connection[Any]) -> None:
    assert readme_privileges() == access_rules(owner)


def test_the_deployment_roles_are_nologin_groups_and_the_owner_no_superuser(
    superuser: psycopg.Connection[Any], deployment: Deployment
) -> None:
    rows = superuser.execute(
        "SELECT rolname::text, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
        " FROM pg_catalog.pg_roles WHERE rolname = ANY(%s) ORDER BY rolname",
        [list(deployment.groups.values())],
    ).fetchall()
    assert rows == sorted((name, False, False, False, False, False) for name in deployment.groups.values())
    row = superuser.execute(
        "SELECT rolsuper, n.nspowner::regrole::text, d.datdba::regrole::text"
        " FROM pg_catalog.pg_roles AS r, pg_catalog.pg_namespace AS n, pg_catalog.pg_database AS d"
        " WHERE r.rolname = %s AND n.nspname = 'challenge' AND d.datname = current_database()",
        [deployment.owner],
    ).fetchone()
    assert row == (False, deployment.owner, deployment.owner)
    owners = superuser.execute(
        "SELECT DISTINCT p.proowner::regrole::text FROM pg_catalog.pg_proc AS p"
        " WHERE p.pronamespace = 'challenge'::regnamespace"
    ).fetchall()
    assert owners == [(deployment.owner,)]


def test_execute_privileges_are_exactly_the_rules_and_the_readme(
    superuser: psycopg.Connection[Any], deployment: Deployment
) -> None:
    rules = access_rules(superuser)
    readme = readme_privileges()
    allowed_grantees = {deployment.owner, *deployment.groups.values()}
    problems: list[str] = []
    found = functions(superuser)
    assert any(f.private for f in found) and any(not f.private for f in found)
    for function in found:
        granted = frozenset(
            kind for kind in KINDS if _may_execute(superuser, deployment.groups[kind], function.oid)
        )
        if _public_may_execute(superuser, function.oid):
            problems.append(f"{function.signature}: PUBLIC may execute it")
        if function.private:
            expected: frozenset[str] = frozenset()
            if function.name in readme:
                problems.append(f"{function.signature}: private, yet in the README's table")
        else:
            if function.name not in readme:
                problems.append(f"{function.signature}: public, missing from the README's privilege table")
            elif readme[function.name] != rules.get(function.name):
                problems.append(f"{function.signature}: README {sorted(readme[function.name])}")
            expected = rules.get(function.name, frozenset())
            if function.name not in rules:
                problems.append(f"{function.signature}: public, no rule in challenge._access_rules")
        if granted != expected:
            problems.append(
                f"{function.signature}: granted to {sorted(granted)}, expected {sorted(expected)}"
            )
        # The logins hold exactly their group's right; the outsider none.
        for kind in KINDS:
            if _may_execute(superuser, deployment.logins[kind], function.oid) != (kind in expected):
                problems.append(
                    f"{function.signature}: login {deployment.logins[kind]} disagrees with its group"
                )
        if _may_execute(superuser, deployment.logins["outsider"], function.oid):
            problems.append(f"{function.signature}: the outsider may execute it")
        grantees = superuser.execute(
            "SELECT DISTINCT a.grantee::regrole::text FROM pg_catalog.pg_proc AS p"
            " CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) AS a WHERE p.oid = %s AND a.grantee <> 0",
            [function.oid],
        ).fetchall()
        strangers = {name for (name,) in grantees} - allowed_grantees
        if strangers:
            problems.append(f"{function.signature}: also granted to {sorted(strangers)}")
    assert not problems, "\n".join(problems)
    # Every rule and every README row names a function that exists.
    names = {f.name for f in found}
    assert set(rules) <= names and set(readme) <= names


def test_the_schema_grants_usage_to_the_three_roles_only(
    superuser: psycopg.Connection[Any], deployment: Deployment
) -> None:
    def has(role: str, privilege: str) -> bool:
        row = superuser.execute(
            "SELECT has_schema_privilege(%s, 'challenge', %s)", [role, privilege]
        ).fetchone()
        assert row is not None
        return bool(row[0])

    for kind in KINDS:
        assert has(deployment.groups[kind], "USAGE")
        assert not has(deployment.groups[kind], "CREATE")
        assert has(deployment.logins[kind], "USAGE")
        assert not has(deployment.logins[kind], "CREATE")
    assert not has(deployment.logins["outsider"], "USAGE")
    assert not has(deployment.logins["outsider"], "CREATE")
    public = superuser.execute(
        "SELECT count(*) FROM pg_catalog.pg_namespace AS n"
        " CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) AS a"
        " WHERE n.nspname = 'challenge' AND a.grantee = 0"
    ).fetchone()
    assert public == (0,)


def test_no_relation_grants_anything_to_the_roles_or_public(
    superuser: psycopg.Connection[Any], connect_as: Connect, deployment: Deployment
) -> None:
    # Day partitions made after the migration (by the admin, through the SECURITY DEFINER function) too.
    Client(connect_as("admin")).create_ledger_partitions(3)
    found = relations(superuser)
    kinds = {r.relkind for r in found}
    names = {r.name for r in found}
    assert {"r", "p", "S"} <= kinds, kinds
    assert sum(1 for name in names if re.fullmatch(r"ledger_[0-9]{8}", name)) >= 4, names
    assert {"progress", "goals", "ledger", "ledger_default", "reward_grants", "alembic_version"} <= names

    version = superuser.info.server_version
    table_privileges = (*TABLE_PRIVILEGES, "MAINTAIN") if version >= 170000 else TABLE_PRIVILEGES
    roles = [*deployment.groups.values(), *deployment.logins.values()]
    problems: list[str] = []
    for relation in found:
        acl = superuser.execute(
            "SELECT a.grantee::regrole::text, a.privilege_type FROM pg_catalog.pg_class AS c"
            " CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS a"
            " WHERE c.oid = %s AND a.grantee <> c.relowner",
            [relation.oid],
        ).fetchall()
        if acl:
            problems.append(f"{relation.qualified}: granted {acl}")
        owner = superuser.execute(
            "SELECT relowner::regrole::text FROM pg_catalog.pg_class WHERE oid = %s", [relation.oid]
        ).fetchone()
        if owner != (deployment.owner,):
            problems.append(f"{relation.qualified}: owned by {owner}")
        privileges = SEQUENCE_PRIVILEGES if relation.is_sequence else table_privileges
        check = "has_sequence_privilege" if relation.is_sequence else "has_table_privilege"
        for role in roles:
            for privilege in privileges:
                row = superuser.execute(
                    f"SELECT {check}(%s, %s::oid, %s)", [role, relation.oid, privilege]
                ).fetchone()
                if row != (False,):
                    problems.append(f"{relation.qualified}: {role} has {privilege}")
            if not relation.is_sequence:
                for privilege in ("SELECT", "INSERT", "UPDATE", "REFERENCES"):
                    row = superuser.execute(
                        "SELECT has_any_column_privilege(%s, %s::oid, %s)", [role, relation.oid, privilege]
                    ).fetchone()
                    if row != (False,):
                        problems.append(f"{relation.qualified}: {role} has {privilege} on a column")
    assert not problems, "\n".join(problems)


def _granted(superuser: psycopg.Connection[Any], deployment: Deployment, login: Login) -> dict[str, bool]:
    rules = access_rules(superuser)
    return {
        f.signature: login != "outsider" and not f.private and login in rules.get(f.name, frozenset())
        for f in functions(superuser)
    }


@pytest.mark.parametrize("login", ["app", "reader", "admin", "outsider"])
def test_each_login_may_call_exactly_its_functions(
    login: Login, superuser: psycopg.Connection[Any], connect_as: Connect, deployment: Deployment
) -> None:
    """Each function with NULL arguments, in a transaction rolled back: refused (42501) where not granted,
    anything but 42501 where granted (an argument error, a result)."""
    granted = _granted(superuser, deployment, login)
    assert any(granted.values()) == (login != "outsider")
    connection = connect_as(login)
    problems: list[str] = []
    for function in functions(superuser):
        sqlstate = sqlstate_of(connection, function.null_call())
        if granted[function.signature] and sqlstate == INSUFFICIENT_PRIVILEGE:
            problems.append(f"{function.signature}: granted, yet refused")
        if not granted[function.signature] and sqlstate != INSUFFICIENT_PRIVILEGE:
            problems.append(f"{function.signature}: not granted, yet got SQLSTATE {sqlstate}")
    assert not problems, "\n".join(problems)
