"""Fixtures for the event-ingestion tests: ``events_db``, a test database with the routing catalog loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
import pytest

if TYPE_CHECKING:
    from tests.events.eventhelpers import load
else:  # pytest puts this folder on sys.path (rootdir-less test modules)
    from eventhelpers import load


@pytest.fixture
def events_db(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    load(db)
    return db
