"""The client's per-item detail, record_events by source position and acquire_source (real PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pgchallenge import (
    AsyncClient,
    Client,
    CompletedGoal,
    Event,
    IncrementItem,
    InvalidArgument,
    InvalidBatch,
    ItemOutcome,
    SetItem,
    SourceFenced,
    SourcePosition,
    async_connect,
)


def kills(event_id: str | None, user_id: str = "u1", **extra: Any) -> dict[str, Any]:
    """A kills statistic: reaches kill-3, level-10 (absolute: needs a value), swim-2 and optional-1."""
    event: dict[str, Any] = {"user_id": user_id, "kind": "statistic", "stat_code": "kills", **extra}
    if event_id is not None:
        event["event_id"] = event_id
    return event


def test_batch_detail_gives_each_item_its_outcome(client: Client) -> None:
    client.initialize_player("u1")
    items = [
        IncrementItem("u1", "kill-3", delta=3, event_id="b-1"),
        IncrementItem("u1", "kill-3", event_id="b-1"),
        IncrementItem("u1", "gone"),
    ]
    result = client.increment_progress_batch(items, detail=True)
    assert result.items == (
        ItemOutcome(0, "b-1", "kill-3", "applied", True),
        ItemOutcome(1, "b-1", "kill-3", "duplicate_event", False),
        ItemOutcome(2, None, "gone", "unknown_goal", False),
    )
    assert result.completed == (CompletedGoal("u1", "kill-3"),)
    # Without detail: the same counts, no items (the default, as before).
    assert client.increment_progress_batch([IncrementItem("u1", "swim-2")]).items == ()


def test_set_batch_detail(client: Client) -> None:
    client.initialize_player("u1")
    result = client.set_progress_batch(
        [SetItem("u1", "level-10", 4), SetItem("u1", "kill-3", 1)], detail=True
    )
    assert [(item.index, item.goal_id, item.outcome) for item in result.items] == [
        (0, "level-10", "applied"),
        (1, "kill-3", "type_mismatch"),
    ]


def test_record_events_detail_names_each_events_goals(client: Client) -> None:
    client.initialize_player("u1")
    client.record_events([kills("e-1")])
    events = [
        kills("e-1"),
        kills("e-2", value=10, inc=2),
        {"event_id": "e-3", "user_id": "u1", "kind": "login"},
    ]
    result = client.record_events(events, detail=True)
    assert (result.events, result.duplicate_events, result.position) == (3, 1, None)
    assert result.items[0] == ItemOutcome(0, "e-1", None, "duplicate_event", False)
    second = {item.goal_id: (item.outcome, item.completed) for item in result.items if item.index == 1}
    assert second == {
        "kill-3": ("applied", True),  # 1 + 2 reaches the target of 3
        "level-10": ("applied", True),
        "swim-2": ("applied", True),
        "optional-1": ("not_assigned", False),
    }
    assert [(item.goal_id, item.outcome) for item in result.items if item.index == 2] == [
        ("login-daily", "applied")
    ]
    assert client.record_events([kills("e-4")]).items == ()


def test_event_ids_are_per_player(client: Client) -> None:
    client.initialize_player("u1")
    client.initialize_player("u2")
    result = client.record_events([kills("same", "u1"), kills("same", "u2")])
    assert result.duplicate_events == 0
    assert client.record_events([Event("same", "u2", "statistic", stat_code="kills")]).duplicate_events == 1


def test_record_events_by_source_position(client: Client) -> None:
    client.initialize_player("u1")
    acquired = client.acquire_source("game", "p0")
    assert acquired == SourcePosition(epoch=1, position=None)
    first = client.record_events(
        [kills(None, position=10), kills("labelled", position=12)], source="game", partition="p0", epoch=1
    )
    assert (first.events, first.duplicate_events, first.position) == (2, 0, 12)
    replay = client.record_events(
        [kills(None, position=12), Event(None, "u1", "statistic", stat_code="kills", position=13)],
        detail=True,
        source="game",
        partition="p0",
        epoch=1,
    )
    assert (replay.duplicate_events, replay.position) == (1, 13)
    assert replay.items[0] == ItemOutcome(0, None, None, "duplicate_event", False)
    progress = client.get_progress("u1", "kill-3")
    assert progress is not None and progress.progress == 3  # positions 10, 12 and 13, once each
    # A new consumer takes over from position 13; the old one is fenced off and changes nothing.
    assert client.acquire_source("game", "p0") == SourcePosition(epoch=2, position=13)
    with pytest.raises(SourceFenced):
        client.record_events([kills(None, position=14)], source="game", partition="p0", epoch=1)
    assert client.acquire_source("game", "p0") == SourcePosition(epoch=3, position=13)


def test_source_arguments_are_checked_by_the_server(client: Client) -> None:
    with pytest.raises(InvalidArgument):
        client.acquire_source("")
    with pytest.raises(InvalidBatch, match="position"):
        client.record_events([kills("e-1", position=1)])  # a position without a source
    with pytest.raises(InvalidBatch, match="position must be an integer"):
        client.record_events([kills("e-1")], source="game")


def test_async_client_detail_and_source(db_url: str, client: Client) -> None:
    client.initialize_player("u1")

    async def scenario() -> None:
        aconn = await async_connect(db_url, autocommit=True)
        async with aconn:
            aclient = AsyncClient(aconn)
            acquired = await aclient.acquire_source("game")
            assert acquired == SourcePosition(1, None)
            result = await aclient.record_events(
                [kills(None, position=5)], detail=True, source="game", epoch=acquired.epoch
            )
            assert result.position == 5
            assert {item.goal_id for item in result.items if item.outcome == "applied"} == {
                "kill-3",
                "swim-2",
            }
            batch = await aclient.increment_progress_batch([IncrementItem("u1", "kill-3")], detail=True)
            assert batch.items == (ItemOutcome(0, None, "kill-3", "applied", False),)
            values = await aclient.set_progress_batch([SetItem("u1", "level-10", 10)], detail=True)
            assert values.items == (ItemOutcome(0, None, "level-10", "applied", True),)

    asyncio.run(scenario())
