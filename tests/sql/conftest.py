"""Fixtures for the SQL contract tests.

``api`` (CONFIG loaded) and ``bare_api`` (no config); ``qa`` (QuestApi over QUEST_CONFIG, for the claim,
outbox, selection, status and maintenance tests); ``la`` (LedgerApi over LEDGER_CONFIG) and ``wk`` (a ``Week``
after any the test runs in) for the ledger tests. test_rotation.py has its own ``wk``, a plain datetime.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.serverclock import ServerClock
from tests.sql.claimhelpers import QUEST_CONFIG, QuestApi
from tests.sql.ledgerhelpers import LEDGER_CONFIG, LedgerApi, Week
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


@pytest.fixture
def qa(db: psycopg.Connection[Any]) -> QuestApi:
    """The claim helpers over a database with QUEST_CONFIG loaded."""
    api = QuestApi(db)
    api.load(QUEST_CONFIG)
    return api


@pytest.fixture
def la(db: psycopg.Connection[Any]) -> LedgerApi:
    """The ledger helpers over a database with LEDGER_CONFIG loaded."""
    api = LedgerApi(db)
    api.load(LEDGER_CONFIG)
    return api


@pytest.fixture
def wk(server_clock: ServerClock) -> Week:
    """Explicit event times in a week after any the test runs in."""
    return Week(server_clock.future_week)
