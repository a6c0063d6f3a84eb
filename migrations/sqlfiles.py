"""Run a revision's frozen SQL snapshot files (migrations/sql/<revision>/...).

Online, each file goes to the database through the DBAPI connection with no parameters, so PL/pgSQL bodies
reach PostgreSQL byte for byte (no bind-parameter parsing of ``:name``, no ``%`` escaping). Offline
(``alembic upgrade --sql``), the file is written into the script verbatim, for the same reason: SQLAlchemy's
``text()`` would double every ``%`` of a ``format()`` call.

A revision lists its files in order. Most are its own (a path inside migrations/sql/<revision>/); a downgrade
that puts a function back as the revision before left it names that revision's frozen file with
``earlier(revision, path)`` instead of keeping a copy of it: the bytes that run are the ones that ran then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from alembic import context, op

SNAPSHOT_ROOT = Path(__file__).resolve().parent / "sql"


class EarlierFile(NamedTuple):
    """A file of an earlier revision's frozen snapshot, run again as it is."""

    revision: str
    relative: str


def earlier(revision: str, relative: str) -> EarlierFile:
    """Name ``relative`` (e.g. ``functions/x.sql``) in the snapshot of the earlier ``revision``."""
    return EarlierFile(revision, relative)


SnapshotFile = str | EarlierFile


def snapshot_path(revision: str, entry: SnapshotFile) -> Path:
    """Where a revision's list entry lives: in its own snapshot, or in the earlier one it names."""
    if isinstance(entry, EarlierFile):
        # Revision ids start with their number (0001_...), so names compare in migration order. Only an
        # earlier snapshot is frozen for good: a later one would tie this revision to one not yet run.
        if entry.revision >= revision:
            raise ValueError(f"{revision} names {entry.revision}/{entry.relative}: not an earlier revision")
        return SNAPSHOT_ROOT / entry.revision / entry.relative
    return SNAPSHOT_ROOT / revision / entry


def run_snapshot(revision: str, files: Sequence[SnapshotFile]) -> None:
    for entry in files:
        sql = snapshot_path(revision, entry).read_text(encoding="utf-8")
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
