"""Fixtures for the event-ingestion tests: ``events_db``, a test database with the routing catalog loaded."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.events.eventhelpers import load


@pytest.fixture
def events_db(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    load(db)
    return db
