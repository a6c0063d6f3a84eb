"""Client.from_sqlalchemy / AsyncClient.from_sqlalchemy: the calls run in the session's own transaction.

Real sessions on the test database (postgresql+psycopg://, sync and asyncio), next to the session's own
SQL; what the session committed or rolled back is read back on another connection (the ``client``
fixture's autocommit one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy
from pgchallenge import AsyncClient, Client
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

ORDER = sqlalchemy.text("INSERT INTO shop_orders (user_id) VALUES (:user_id)")


@pytest.fixture
def sa_url(db_url: str, db: psycopg.Connection[Any]) -> sqlalchemy.URL:
    """The test database as a SQLAlchemy URL on psycopg 3, with a table standing for the service's own."""
    db.execute("CREATE TABLE shop_orders (user_id text NOT NULL)")
    params = conninfo_to_dict(db_url)
    return sqlalchemy.URL.create(
        "postgresql+psycopg",
        username=str(params["user"]),
        password=str(params.get("password") or "") or None,
        host=str(params["host"]),
        port=int(str(params["port"])),
        database=str(params["dbname"]),
    )


@pytest.fixture
def engine(sa_url: sqlalchemy.URL) -> Iterator[sqlalchemy.Engine]:
    engine = sqlalchemy.create_engine(sa_url)
    yield engine
    engine.dispose()


def orders(client: Client, user_id: str) -> int:
    query = "SELECT count(*) FROM shop_orders WHERE user_id = %s"
    row = client.connection.execute(query, [user_id]).fetchone()
    assert row is not None
    return int(row[0])


def kills(client: Client, user_id: str) -> int | None:
    row = client.get_progress(user_id, "kill-3")
    return None if row is None else row.progress


def test_sync_session_rollback_undoes_the_clients_writes(engine: sqlalchemy.Engine, client: Client) -> None:
    with Session(engine) as session:
        session.execute(ORDER, {"user_id": "u1"})
        in_session = Client.from_sqlalchemy(session)
        assert in_session.connection is session.connection().connection.driver_connection
        in_session.initialize_player("u1")
        assert in_session.increment_progress("u1", "kill-3").progress == 1
        # The session's own SQL sees the uncommitted write: one transaction, not just one connection.
        seen = session.execute(sqlalchemy.text("SELECT progress FROM challenge.get_progress('u1', 'kill-3')"))
        assert seen.scalar_one() == 1
        assert in_session.connection.info.transaction_status == TransactionStatus.INTRANS
        assert kills(client, "u1") is None  # nothing visible elsewhere yet
        session.rollback()

    assert kills(client, "u1") is None
    assert client.get_user_progress("u1") == []
    assert orders(client, "u1") == 0


def test_sync_session_commit_publishes_the_clients_writes(engine: sqlalchemy.Engine, client: Client) -> None:
    client.initialize_player("u1")
    with Session(engine) as session:
        session.execute(ORDER, {"user_id": "u1"})
        Client.from_sqlalchemy(session).increment_progress("u1", "kill-3", delta=2)
        assert kills(client, "u1") == 0
        session.commit()

    assert kills(client, "u1") == 2
    assert orders(client, "u1") == 1


def test_session_begin_block_commits_or_rolls_back(engine: sqlalchemy.Engine, client: Client) -> None:
    """``with session.begin():``, the usual unit of work: an exception rolls the client's write back."""
    client.initialize_player("u1")
    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        Client.from_sqlalchemy(session).increment_progress("u1", "kill-3")
        raise RuntimeError("the service fails after the write")
    assert kills(client, "u1") == 0

    with Session(engine) as session, session.begin():
        Client.from_sqlalchemy(session).increment_progress("u1", "kill-3")
    assert kills(client, "u1") == 1


def test_async_session_rollback_and_commit(sa_url: sqlalchemy.URL, client: Client) -> None:
    async def scenario() -> None:
        engine = create_async_engine(sa_url)
        try:
            async with AsyncSession(engine) as session:
                await session.execute(ORDER, {"user_id": "u1"})
                in_session = await AsyncClient.from_sqlalchemy(session)
                assert isinstance(in_session.connection, psycopg.AsyncConnection)
                await in_session.initialize_player("u1")
                assert (await in_session.increment_progress("u1", "kill-3")).progress == 1
                seen = await session.execute(
                    sqlalchemy.text("SELECT progress FROM challenge.get_progress('u1', 'kill-3')")
                )
                assert seen.scalar_one() == 1
                assert kills(client, "u1") is None
                await session.rollback()
            assert client.get_user_progress("u1") == []
            assert orders(client, "u1") == 0

            client.initialize_player("u1")

            async with AsyncSession(engine) as session:
                await session.execute(ORDER, {"user_id": "u1"})
                await (await AsyncClient.from_sqlalchemy(session)).increment_progress("u1", "kill-3", 2)
                assert kills(client, "u1") == 0
                await session.commit()
            assert kills(client, "u1") == 2
            assert orders(client, "u1") == 1
        finally:
            await engine.dispose()

    asyncio.run(scenario())


def test_another_driver_is_refused_with_a_type_error() -> None:
    engine = sqlalchemy.create_engine("sqlite://")
    try:
        with Session(engine) as session, pytest.raises(TypeError, match=r"psycopg 3 .*sqlite\+pysqlite"):
            Client.from_sqlalchemy(session)
    finally:
        engine.dispose()
