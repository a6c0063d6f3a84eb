"""Fixtures for the migration tests: empty databases on the test server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.migrations.migrationhelpers import NewDatabase
from tests.rolehelpers import drop_databases_and_roles, server_url


@pytest.fixture
def new_database(postgresql_proc: Any) -> Iterator[NewDatabase]:
    """Create empty databases on the test server (dropped afterwards); returns their conninfo."""
    created: list[str] = []
    admin = server_url(postgresql_proc)

    def _create() -> str:
        name = f"mig_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        created.append(name)
        return psycopg.conninfo.make_conninfo(admin, dbname=name)

    yield _create
    drop_databases_and_roles(admin, created, [])
