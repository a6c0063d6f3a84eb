"""Run a revision's frozen SQL snapshot files (migrations/sql/<revision>/...).

Online, each file goes to the database through the DBAPI connection with no parameters, so PL/pgSQL bodies
reach PostgreSQL byte for byte (no bind-parameter parsing of ``:name``, no ``%`` escaping). Offline
(``alembic upgrade --sql``), the file is written into the script verbatim, for the same reason: SQLAlchemy's
``text()`` would double every ``%`` of a ``format()`` call.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from alembic import context, op

SNAPSHOT_ROOT = Path(__file__).resolve().parent / "sql"


def snapshot_path(revision: str, relative: str) -> Path:
    return SNAPSHOT_ROOT / revision / relative


def run_snapshot(revision: str, files: list[str]) -> None:
    for relative in files:
        sql = snapshot_path(revision, relative).read_text(encoding="utf-8")
        if context.is_offline_mode():
            context.get_context().impl.static_output(sql)
        else:
            driver_connection = op.get_bind().connection.driver_connection
            assert driver_connection is not None
            driver_connection.execute(sql)


def set_local_settings(settings: Mapping[str, str]) -> None:
    """Set custom settings for the rest of the migration's transaction, for a snapshot to read.

    A revision's inputs (role names, say) reach its frozen SQL this way, so the SQL stays a file that runs
    the same online and offline (where the ``set_config`` calls are written into the script)."""
    for name, value in settings.items():
        statement = f"SELECT pg_catalog.set_config({_literal(name)}, {_literal(value)}, true);"
        if context.is_offline_mode():
            context.get_context().impl.static_output(statement)
        else:
            driver_connection = op.get_bind().connection.driver_connection
            assert driver_connection is not None
            driver_connection.execute(statement)


def _literal(text: str) -> str:
    """A standard SQL string literal (standard_conforming_strings is on since PostgreSQL 9.1)."""
    return "'" + text.replace("'", "''") + "'"
