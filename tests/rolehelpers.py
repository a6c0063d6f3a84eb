"""Databases and roles of one test on the shared test server, named under a prefix and removed afterwards.

Roles are cluster-wide and the server is shared by every test: a test that creates roles (a migration with
``--role-prefix``, a login it grants a group to) names them all under a prefix of its own, and its
databases too (made from template0, never the shared template, whose default role names other tests'
databases use). ``prefixed_cluster`` drops the databases first, then every role whose name starts with the
prefix, even when the test failed half-way, and checks that none is left.

Used by tests/cli/test_status_and_roles_cli.py (``deployment``), tests/migrations/test_roles_migration.py
(``cluster``); tests/privileges/conftest.py and tests/migrations/conftest.py use ``server_url`` and
``drop_databases_and_roles``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

# The kinds of group role revision 0009 creates, each named <prefix>_<kind>.
ROLE_KINDS = ("admin", "app", "reader")


def server_url(
    proc: Any, dbname: str = "postgres", *, user: str | None = None, password: str | None = None
) -> str:
    """Conninfo of the test server (pytest-postgresql's ``postgresql_proc``) for ``dbname``: as the server's
    superuser, or as ``user`` with ``password`` when given."""
    if user is None:
        user, password = proc.user, proc.password
    return psycopg.conninfo.make_conninfo(
        host=proc.host, port=str(proc.port), user=user, dbname=dbname, password=password or None
    )


def drop_databases_and_roles(admin_url: str, databases: Iterable[str], roles: Iterable[str]) -> None:
    """Drop the databases (closing their connections), then the roles in the order given."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in databases:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        for role in roles:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@dataclass
class Cluster:
    """Databases and roles of one test on the shared server, all named under ``prefix``."""

    admin_url: str  # the server's superuser, on its maintenance database
    prefix: str
    databases: list[str] = field(default_factory=list)

    def new_database(self, owner: str | None = None) -> str:
        """A new empty database (from template0, optionally owned by ``owner``): its conninfo as the admin."""
        name = f"{self.prefix}_{len(self.databases)}"
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
        if owner is not None:
            statement += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
        self.execute(statement)
        self.databases.append(name)
        return self.url(name)

    def url(self, dbname: str, user: str | None = None) -> str:
        params: dict[str, Any] = {"dbname": dbname}
        if user is not None:
            params["user"] = user
        return psycopg.conninfo.make_conninfo(self.admin_url, **params)

    def execute(self, statement: sql.Composed | str, params: Sequence[Any] | None = None) -> None:
        """One statement as the admin, on the maintenance database."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement, params)

    def create_role(self, name: str, options: str = "NOLOGIN") -> str:
        assert name.startswith(self.prefix), name
        self.execute(sql.SQL("CREATE ROLE {} " + options).format(sql.Identifier(name)))
        return name

    def create_login(self, suffix: str) -> str:
        """A login role ``<prefix>_<suffix>``."""
        return self.create_role(f"{self.prefix}_{suffix}", "LOGIN")

    def group(self, kind: str) -> str:
        """The name of the group role of ``kind`` a migration with this test's prefix uses."""
        return f"{self.prefix}_{kind}"

    def names(self, prefix: str | None = None) -> dict[str, str]:
        """The group roles a migration with ``prefix`` (default: this test's) would use, by kind."""
        return {kind: f"{prefix or self.prefix}_{kind}" for kind in ROLE_KINDS}

    def members(self, group: str) -> set[str]:
        """The roles that are members of ``group``."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT m.rolname FROM pg_catalog.pg_auth_members AS a"
                " JOIN pg_catalog.pg_roles AS g ON g.oid = a.roleid"
                " JOIN pg_catalog.pg_roles AS m ON m.oid = a.member WHERE g.rolname = %s",
                [group],
            ).fetchall()
        return {str(name) for (name,) in rows}

    def roles(self) -> set[str]:
        """This test's roles on the server."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT rolname FROM pg_catalog.pg_roles WHERE starts_with(rolname, %s)", [self.prefix]
            ).fetchall()
        return {str(name) for (name,) in rows}

    def cleanup(self) -> None:
        drop_databases_and_roles(self.admin_url, self.databases, sorted(self.roles()))


@contextmanager
def prefixed_cluster(proc: Any, tag: str) -> Iterator[Cluster]:
    """A ``Cluster`` under the prefix ``<tag><12 hex digits>``, cleaned up afterwards; asserts that the test
    left no role behind."""
    cluster = Cluster(server_url(proc), f"{tag}{uuid.uuid4().hex[:12]}")
    try:
        yield cluster
    finally:
        cluster.cleanup()
    assert not cluster.roles(), "the test left roles behind"
