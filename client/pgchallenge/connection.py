"""Opening a connection: which database to use when the caller names none.

Resolution order (first match wins):

1. the URL passed explicitly;
2. ``PGCHALLENGE_DATABASE_URL``, then ``DATABASE_URL``;
3. libpq's own environment (``PGHOST``, ``PGPORT``, ``PGDATABASE``, ``PGUSER``, ``PGSERVICE``): the empty
   conninfo ``""`` is returned so that libpq reads every ``PG*`` variable itself (including
   ``PGPASSWORD``, ``PGSSLMODE``...), exactly as psql would;
4. the embedded PostgreSQL server (``pgchallenge[embedded]``), started on first use.
"""

from __future__ import annotations

import asyncio
import os

import psycopg
from psycopg.rows import TupleRow

URL_ENV_VARS = ("PGCHALLENGE_DATABASE_URL", "DATABASE_URL")
LIBPQ_ENV_VARS = ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")


def resolve_database_url(url: str | None = None) -> str:
    """The conninfo to connect with ("" means: let libpq read its ``PG*`` environment)."""
    if url:
        return url
    for name in URL_ENV_VARS:
        value = os.environ.get(name)
        if value:
            return value
    if any(os.environ.get(name) for name in LIBPQ_ENV_VARS):
        return ""
    # Imported late: the embedded server is an optional dependency and costs nothing when unused.
    from pgchallenge import embedded

    return embedded.start()


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection[TupleRow]:
    """A psycopg connection to the resolved database; the caller owns it (and its transactions)."""
    return psycopg.connect(resolve_database_url(url), autocommit=autocommit)


async def async_connect(
    url: str | None = None, *, autocommit: bool = False
) -> psycopg.AsyncConnection[TupleRow]:
    """Async twin of ``connect``."""
    # Resolving may start the embedded server (a subprocess, seconds): keep it off the event loop.
    conninfo = await asyncio.to_thread(resolve_database_url, url)
    return await psycopg.AsyncConnection.connect(conninfo, autocommit=autocommit)
