"""AsyncClient gives the same results as Client (run with asyncio.run); test_client_coverage.py checks that
the two have the same methods and signatures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pgchallenge import (
    AsyncClient,
    BatchResult,
    ChallengeNotFound,
    Client,
    CompletedGoal,
    ConfigResult,
    GoalNotFound,
    GoalProgress,
    IncrementItem,
    InvalidBatch,
    RotationStatus,
    SetItem,
    WriteResult,
    async_connect,
)


def test_async_client_round_trip(db_url: str, config: dict[str, Any]) -> None:
    async def scenario() -> None:
        aconn = await async_connect(db_url, autocommit=True)
        async with aconn:
            client = AsyncClient(aconn)
            assert client.connection is aconn
            loaded = await client.load_config(config)
            assert isinstance(loaded, ConfigResult) and loaded.goals == 5

            rows = await client.initialize_player("u1")
            assert rows and all(isinstance(row, GoalProgress) for row in rows)
            row = await client.set_goal_active("u1", "optional-1", True)
            assert isinstance(row, GoalProgress) and row.is_active

            result = await client.increment_progress("u1", "kill-3", delta=3)
            assert result == WriteResult("applied", 3, "completed", True)

            batch = await client.increment_progress_batch([IncrementItem("u1", "swim-2", delta=2)])
            assert isinstance(batch, BatchResult)
            assert batch.completed == (CompletedGoal("u1", "swim-2"),)
            values = await client.set_progress_batch([SetItem("u1", "level-10", 4)])
            assert values.applied == 1

            progress = await client.get_progress("u1", "level-10")
            assert progress is not None and progress.progress == 4
            assert await client.get_progress("u1", "no-such-goal") is None
            winter = await client.get_user_progress("u1", active_only=True, challenge_id="winter")
            assert {row.challenge_id for row in winter} == {"winter"}

            with pytest.raises(GoalNotFound):
                await client.set_goal_active("u1", "no-such-goal", True)
            with pytest.raises(ChallengeNotFound):
                await client.get_user_progress("u1", challenge_id="no-such-challenge")
            with pytest.raises(InvalidBatch):
                await client.increment_progress_batch([{"user_id": "", "goal_id": "kill-3"}])

    asyncio.run(scenario())


def test_async_and_sync_clients_agree(db_url: str, client: Client) -> None:
    client.initialize_player("u1")
    client.increment_progress("u1", "kill-3")

    async def read() -> list[GoalProgress]:
        aconn = await async_connect(db_url, autocommit=True)
        async with aconn:
            return await AsyncClient(aconn).get_user_progress("u1")

    assert asyncio.run(read()) == client.get_user_progress("u1")


def test_rotation_status_through_both_clients(db_url: str, client: Client) -> None:
    status = client.get_rotation_status("winter")
    assert isinstance(status, RotationStatus)
    assert (status.challenge_id, status.enabled, status.goal_id, status.seconds_left) == (
        "winter",
        False,
        None,
        None,
    )
    with pytest.raises(ChallengeNotFound):
        client.get_rotation_status("no-such-challenge")

    async def read() -> RotationStatus:
        aconn = await async_connect(db_url, autocommit=True)
        async with aconn:
            return await AsyncClient(aconn).get_rotation_status("winter")

    assert asyncio.run(read()) == status
