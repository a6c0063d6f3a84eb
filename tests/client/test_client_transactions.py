"""The caller owns the transaction: the client never commits or rolls back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pgchallenge
import psycopg
import pytest
from pgchallenge import Client, GoalNotFound, IncrementItem
from psycopg.pq import TransactionStatus


def test_writes_are_rolled_back_with_the_callers_transaction(
    client: Client, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    client.initialize_player("u1")
    conn = connect(autocommit=False)
    writer = Client(conn)

    writer.initialize_player("u2")
    writer.increment_progress("u1", "kill-3")
    writer.increment_progress_batch([IncrementItem("u1", "kill-3")])
    assert conn.info.transaction_status == TransactionStatus.INTRANS
    seen_inside = writer.get_progress("u1", "kill-3")
    assert seen_inside is not None and seen_inside.progress == 2
    conn.rollback()

    assert client.get_user_progress("u2") == []
    after = client.get_progress("u1", "kill-3")
    assert after is not None and after.progress == 0


def test_writes_commit_only_when_the_caller_commits(
    client: Client, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    conn = connect(autocommit=False)
    Client(conn).initialize_player("u1")
    assert client.get_user_progress("u1") == []  # not visible to others before the commit
    conn.commit()
    assert len(client.get_user_progress("u1")) == 4


def test_an_error_leaves_the_transaction_to_the_caller(
    client: Client, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    conn = connect(autocommit=False)
    writer = Client(conn)
    writer.initialize_player("u1")
    with pytest.raises(GoalNotFound):
        writer.set_goal_active("u1", "no-such-goal", True)
    assert conn.info.transaction_status == TransactionStatus.INERROR
    conn.rollback()
    assert client.get_user_progress("u1") == []


def test_connect_honours_autocommit(db_url: str) -> None:
    with pgchallenge.connect(db_url) as conn:
        assert conn.autocommit is False
    with pgchallenge.connect(db_url, autocommit=True) as conn:
        assert conn.autocommit is True
