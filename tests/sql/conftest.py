"""Fixtures for the SQL contract tests: ``api`` (CONFIG loaded) and ``bare_api`` (no config)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.sql.sqlhelpers import CONFIG, Api


@pytest.fixture
def bare_api(db: psycopg.Connection[Any]) -> Api:
    """The wrapper over a migrated database with no config loaded."""
    return Api(db)


@pytest.fixture
def api(bare_api: Api) -> Api:
    """The wrapper over a database with CONFIG loaded."""
    bare_api.load(CONFIG)
    return bare_api
