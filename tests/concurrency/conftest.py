"""Fixtures for the concurrency tests: the test database with the race config loaded."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.concurrency.conchelpers import load


@pytest.fixture
def race_db(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """The test database's main connection, with the race config loaded."""
    load(db)
    return db
