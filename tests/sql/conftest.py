"""Fixtures for the SQL contract tests: ``api`` (CONFIG loaded) and ``bare_api`` (no config)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
import pytest

if TYPE_CHECKING:
    from tests.sql.sqlhelpers import CONFIG, Api
else:  # pytest puts this folder on sys.path (rootdir-less test modules)
    from sqlhelpers import CONFIG, Api


@pytest.fixture
def bare_api(db: psycopg.Connection[Any]) -> Api:
    """The wrapper over a migrated database with no config loaded."""
    return Api(db)


@pytest.fixture
def api(bare_api: Api) -> Api:
    """The wrapper over a database with CONFIG loaded."""
    bare_api.load(CONFIG)
    return bare_api
