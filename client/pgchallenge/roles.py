"""The deployment's group roles (revision 0009): which names it uses, and putting login roles into them.

The migration creates three NOLOGIN group roles, app, reader and admin (named ``<prefix>_app`` and so on;
``alembic -x role_prefix=...``), and records their names in ``challenge.deployment_roles``. A service logs in
with its own role, made a member of one group: ``GRANT pgchallenge_app TO game_service``. These helpers
read the names and build that statement; run them as the role that migrated (or a superuser), which can
read the table and has ADMIN OPTION on the roles it created.
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

import psycopg
from psycopg import sql

from pgchallenge.errors import PgChallengeError

RoleKind = Literal["app", "reader", "admin"]
ROLE_KINDS: Final[tuple[RoleKind, ...]] = get_args(RoleKind)


class RolesNotMigrated(PgChallengeError):
    """The database has no ``challenge.deployment_roles`` (it is not migrated to revision 0009 or later)."""


def deployment_roles(conn: psycopg.Connection[Any]) -> dict[RoleKind, str]:
    """The group role of each kind, e.g. ``{"app": "pgchallenge_app", ...}``."""
    try:
        with conn.transaction():
            rows = conn.execute("SELECT kind, role_name FROM challenge.deployment_roles").fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise RolesNotMigrated(
            "challenge.deployment_roles does not exist: migrate the database first (pgchallenge migrate)"
        ) from exc
    names = {str(kind): str(name) for kind, name in rows}
    return {kind: names[kind] for kind in ROLE_KINDS if kind in names}


def members(conn: psycopg.Connection[Any], group: str) -> list[str]:
    rows = conn.execute(
        "SELECT m.rolname FROM pg_catalog.pg_auth_members AS a"
        " JOIN pg_catalog.pg_roles AS g ON g.oid = a.roleid"
        " JOIN pg_catalog.pg_roles AS m ON m.oid = a.member"
        " WHERE g.rolname = %s ORDER BY m.rolname",
        [group],
    ).fetchall()
    return [str(name) for (name,) in rows]


def grant_statement(group: str, login: str) -> sql.Composed:
    return sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(login))


def revoke_statement(group: str, login: str) -> sql.Composed:
    return sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), sql.Identifier(login))
