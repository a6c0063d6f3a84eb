"""Fixtures for the privilege tests: a realistic deployment, migrated by an owner that is no superuser.

As the test server's superuser: a unique owner role (LOGIN CREATEROLE, not a superuser) and a database it
owns; then ``pgchallenge.migrate.upgrade`` connecting as that owner, with a unique role prefix, so that
revision 0009 creates the group roles ``<prefix>_app``, ``_reader`` and ``_admin``. Then one login role per
group (``<prefix>_app_login``...), made a member by the owner (``pgchallenge.roles.grant_statement``), and an
``<prefix>_outsider`` login in no group. The admin login loads the catalog through the client. Roles are
cluster-wide and the server is shared: the names carry a random hex, and teardown drops the database and
every role it created.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from pgchallenge import Client, migrate, roles
from psycopg import sql

from tests.privileges.privhelpers import CONFIG, KINDS, LOGINS, Connect, Deployment, Kind, Login
from tests.rolehelpers import drop_databases_and_roles, server_url


@pytest.fixture(scope="session")
def deployment(postgresql_proc: Any) -> Iterator[Deployment]:
    """The migrated database and its roles (shared by the privilege tests; tests use their own player ids)."""
    tag = uuid.uuid4().hex[:12]
    prefix = f"pgc_{tag}"
    owner = f"pgc_owner_{tag}"
    dbname = f"pgc_priv_{tag}"
    groups: dict[Kind, str] = {kind: f"{prefix}_{kind}" for kind in KINDS}
    logins: dict[Login, str] = {kind: f"{prefix}_{kind}_login" for kind in KINDS}
    logins["outsider"] = f"{prefix}_outsider"
    passwords = {name: secrets.token_hex(16) for name in [owner, *logins.values()]}
    maintenance = server_url(postgresql_proc)
    # Teardown order: logins, then groups, then the owner.
    cleanup = [*logins.values(), *groups.values(), owner]

    try:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEROLE NOSUPERUSER PASSWORD {}").format(
                    sql.Identifier(owner), sql.Literal(passwords[owner])
                )
            )
            connection.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                    sql.Identifier(dbname), sql.Identifier(owner)
                )
            )
        owner_url = server_url(postgresql_proc, dbname, user=owner, password=passwords[owner])
        superuser_url = server_url(postgresql_proc, dbname)

        # The migration, as the owner: no superuser anywhere in it.
        migrate.upgrade(owner_url, role_prefix=prefix)

        with psycopg.connect(maintenance, autocommit=True) as connection:
            for name in logins.values():
                connection.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD {}").format(
                        sql.Identifier(name), sql.Literal(passwords[name])
                    )
                )
        with psycopg.connect(owner_url, autocommit=True) as connection:
            recorded = roles.deployment_roles(connection)
            assert recorded == groups, recorded
            for kind in KINDS:  # as the owner, which has ADMIN OPTION on the roles its migration created
                connection.execute(roles.grant_statement(groups[kind], logins[kind]))

        login_urls: dict[Login, str] = {
            login: server_url(postgresql_proc, dbname, user=logins[login], password=passwords[logins[login]])
            for login in LOGINS
        }
        for login in LOGINS:  # the server accepts every login (pg_hba, passwords)
            with psycopg.connect(login_urls[login]) as connection:
                row = connection.execute("SELECT current_user::text").fetchone()
                assert row == (logins[login],), row

        with psycopg.connect(login_urls["admin"], autocommit=True) as connection:
            Client(connection).load_config(CONFIG)

        yield Deployment(
            dbname=dbname,
            prefix=prefix,
            owner=owner,
            groups=groups,
            logins=logins,
            superuser_url=superuser_url,
            owner_url=owner_url,
            login_urls=login_urls,
        )
    finally:
        drop_databases_and_roles(maintenance, [dbname], cleanup)


@pytest.fixture
def connect_as(deployment: Deployment) -> Iterator[Connect]:
    """``connect_as("app")``: a new connection as that login (autocommit unless told), closed afterwards."""
    opened: list[psycopg.Connection[Any]] = []

    def _connect(login: Login, autocommit: bool = True) -> psycopg.Connection[Any]:
        connection = psycopg.connect(deployment.url(login), autocommit=autocommit)
        opened.append(connection)
        return connection

    yield _connect
    for connection in opened:
        connection.close()


@pytest.fixture
def superuser(deployment: Deployment) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the deployment's database as the test server's superuser."""
    with psycopg.connect(deployment.superuser_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def owner(deployment: Deployment) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection as the owner role (which migrated the database)."""
    with psycopg.connect(deployment.owner_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def player() -> str:
    """A player id no other test uses (the deployment is shared by the session)."""
    return f"p-{uuid.uuid4().hex[:12]}"
