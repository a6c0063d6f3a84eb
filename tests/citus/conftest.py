"""Fixtures for the cluster suite: ``cluster``, the prepared Citus coordinator named by PGCHALLENGE_CITUS_URL.

The session fixture connects (autocommit), migrates the database when it has no ``challenge`` schema or is
at an older revision than head, distributes it with ``pgchallenge.citus.distribute`` (a no-op once
distributed) and loads the example config. It never drops the database: every run's rows carry the run's
prefix (``Cluster.run``). The coverage test (test_cluster_coverage.py) is moved to the end of the run, after
every test whose calls it counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.script import ScriptDirectory
from pgchallenge import citus, migrate

from tests.citus.citushelpers import SKIP_REASON, Api, CallLog, Cluster, citus_url, example_config

HERE = Path(__file__).parent
COVERAGE_MODULE = "test_cluster_coverage.py"


def _revision(conn: psycopg.Connection[Any]) -> str | None:
    """The database's Alembic revision; None without a challenge schema (not migrated)."""
    record = conn.execute("SELECT to_regclass('challenge.alembic_version') IS NOT NULL").fetchone()
    if not (record and record[0]):
        return None
    version = conn.execute("SELECT version_num FROM challenge.alembic_version").fetchone()
    return None if version is None else str(version[0])


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    url = citus_url()
    if url is None:  # the modules' skipif marks come first; this guards a test that forgot them
        pytest.skip(SKIP_REASON)
    conn = psycopg.connect(url, autocommit=True)
    head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    if _revision(conn) != head:  # not migrated, or at an older revision
        migrate.upgrade(url)
    citus.distribute(conn)  # a no-op once distributed
    log = CallLog()
    Api(conn, log).load(example_config())
    prepared = Cluster(url=url, conn=conn, log=log, run=uuid.uuid4().hex[:10])
    try:
        yield prepared
    finally:
        prepared.close()


@pytest.fixture
def cluster_connect(cluster: Cluster) -> Iterator[Callable[..., psycopg.Connection[Any]]]:
    """Open more autocommit connections to the coordinator; all are closed after the test (each holds
    connections to the workers too, and the cluster is shared)."""
    opened: list[psycopg.Connection[Any]] = []

    def _connect(autocommit: bool = True) -> psycopg.Connection[Any]:
        connection = psycopg.connect(cluster.url, autocommit=autocommit)
        opened.append(connection)
        return connection

    yield _connect
    for connection in opened:
        connection.close()


# --- ordering: the coverage test last ---------------------------------------------------------------------


def _in_suite(item: pytest.Item) -> bool:
    return HERE in item.path.parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The coverage test counts the calls of every other cluster test: it runs after all of them."""
    last = [item for item in items if _in_suite(item) and item.path.name == COVERAGE_MODULE]
    if last:
        items[:] = [item for item in items if item not in last] + last
    config.stash.setdefault(_COLLECTED, set()).update(item.nodeid for item in items if _in_suite(item))


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        deselected = items[0].config.stash.setdefault(_DESELECTED, set())
        deselected.update(item.nodeid for item in items if _in_suite(item))


_COLLECTED = pytest.StashKey[set[str]]()
_DESELECTED = pytest.StashKey[set[str]]()


@pytest.fixture
def whole_suite(request: pytest.FixtureRequest) -> None:
    """Skip unless every test module of the suite was collected and none of its tests deselected: the
    coverage check means nothing over part of the suite."""
    config = request.config
    modules = {path.name for path in HERE.glob("test_*.py")}
    collected = config.stash.get(_COLLECTED, set())
    ran = {nodeid.split("::")[0].rsplit("/", 1)[-1] for nodeid in collected}
    missing = sorted(modules - ran)
    deselected = config.stash.get(_DESELECTED, set())
    if missing or deselected:
        pytest.skip(
            "the coverage check needs the whole cluster suite:"
            + (f" modules not collected: {', '.join(missing)};" if missing else "")
            + (f" {len(deselected)} test(s) deselected" if deselected else "")
        )
