"""Input items serialise to docs/api.md's item objects; result documents parse into dataclasses."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from typing import Any, get_args

import pytest
from pgchallenge import (
    BatchResult,
    CompletedGoal,
    ConfigResult,
    Event,
    EventOutcome,
    EventsResult,
    GoalOutcome,
    IncrementItem,
    ItemOutcome,
    Outcome,
    SetItem,
    SkippedCounts,
)
from pgchallenge.models import OUTCOMES, event_json, event_outcomes, item_json

AT = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def test_increment_item_to_json_omits_none() -> None:
    assert IncrementItem("u1", "kill-10").to_json() == {"user_id": "u1", "goal_id": "kill-10", "delta": 1}
    assert IncrementItem("u1", "kill-10", 2, "e-91", AT).to_json() == {
        "user_id": "u1",
        "goal_id": "kill-10",
        "delta": 2,
        "event_id": "e-91",
        "occurred_at": "2026-11-27T10:00:00+00:00",
    }


def test_set_item_keeps_the_offset() -> None:
    at = datetime(2026, 11, 27, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert SetItem("u1", "reach-lvl-20", 17, occurred_at=at).to_json() == {
        "user_id": "u1",
        "goal_id": "reach-lvl-20",
        "value": 17,
        "occurred_at": "2026-11-27T12:00:00+02:00",
    }


@pytest.mark.parametrize("make", [IncrementItem, SetItem], ids=["increment", "set"])
def test_naive_datetime_is_refused(make: type[IncrementItem] | type[SetItem]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make("u1", "g", 1, occurred_at=datetime(2026, 11, 27, 10, 0))


def test_mapping_items_pass_through_with_datetimes_formatted() -> None:
    assert item_json({"user_id": "u1", "goal_id": "g", "event_id": None, "occurred_at": AT}) == {
        "user_id": "u1",
        "goal_id": "g",
        "occurred_at": "2026-11-27T10:00:00+00:00",
    }
    with pytest.raises(ValueError):
        item_json({"user_id": "u1", "goal_id": "g", "occurred_at": datetime(2026, 1, 1)})


def test_batch_result_from_json() -> None:
    document = {
        "applied": 812,
        "completed": [{"user_id": "u7", "goal_id": "kill-10"}],
        "skipped": {
            "inactive": 100,
            "not_assigned": 50,
            "claimed": 3,
            "unknown_goal": 0,
            "duplicate_event": 2,
            "already_counted_today": 5,
            "stale_event": 0,
            "type_mismatch": 0,
        },
    }
    result = BatchResult.from_json(json.dumps(document))
    assert result == BatchResult.from_json(document)
    assert result.completed == (CompletedGoal("u7", "kill-10"),)
    assert result.skipped.total == 160 and result.total == 972
    with pytest.raises(KeyError):
        SkippedCounts.from_json({"inactive": 1})


NO_SKIPS = {name: 0 for name in OUTCOMES if name != "applied"}


def test_batch_result_items_are_parsed_when_present() -> None:
    document = {
        "applied": 1,
        "completed": [],
        "skipped": {**NO_SKIPS, "unknown_goal": 1},
        "items": [
            {"index": 0, "event_id": "e-91", "goal_id": "kill-10", "outcome": "applied", "completed": False},
            {"index": 1, "event_id": None, "goal_id": "gone", "outcome": "unknown_goal", "completed": False},
        ],
    }
    result = BatchResult.from_json(document)
    assert result.items == (
        ItemOutcome(0, "e-91", "kill-10", "applied", False),
        ItemOutcome(1, None, "gone", "unknown_goal", False),
    )
    # A result without detail (and an older server's) has no items.
    without = {key: value for key, value in document.items() if key != "items"}
    assert BatchResult.from_json(without).items == ()


def test_events_result_position_and_items() -> None:
    document = {"events": 2, "duplicate_events": 1, "applied": 1, "completed": [], "skipped": NO_SKIPS}
    plain = EventsResult.from_json(document)
    assert (plain.position, plain.items) == (None, ())
    sourced = EventsResult.from_json(
        {
            **document,
            "position": 41877,
            "items": [
                {
                    "index": 0,
                    "event_id": None,
                    "goal_id": None,
                    "outcome": "duplicate_event",
                    "completed": False,
                },
                {"index": 1, "event_id": None, "goal_id": "kill-10", "outcome": "applied", "completed": True},
            ],
        }
    )
    assert sourced.position == 41877
    assert sourced.items[0] == ItemOutcome(0, None, None, "duplicate_event", False)


def test_event_outcomes_slices_the_items_by_event_index() -> None:
    events: list[dict[str, Any]] = [
        {"event_id": "a", "user_id": "u1", "kind": "login"},
        {"event_id": "b", "user_id": "u1", "kind": "statistic", "stat_code": "nothing"},
        {"user_id": "u1", "kind": "statistic", "stat_code": "kills", "position": 7},
    ]

    def item(index: int, goal_id: str | None, outcome: str, completed: bool = False) -> dict[str, object]:
        return {
            "index": index,
            "event_id": None,
            "goal_id": goal_id,
            "outcome": outcome,
            "completed": completed,
        }

    result = EventsResult.from_json(
        {
            "events": 3,
            "duplicate_events": 1,
            "applied": 2,
            "completed": [{"user_id": "u1", "goal_id": "kill-10"}],
            "skipped": {**NO_SKIPS, "inactive": 1},
            "items": [
                item(0, None, "duplicate_event"),
                item(2, "kill-10", "applied", True),
                item(2, "kill-daily", "applied"),
                item(2, "kill-extra", "inactive"),
            ],
        }
    )
    duplicate, unrouted, applied = event_outcomes(events, result)
    assert duplicate == EventOutcome("a", None, True, ())
    assert unrouted == EventOutcome("b", None, False, ())  # reached no goal
    assert applied.position == 7 and applied.event_id is None and not applied.duplicate
    assert applied.goals == (
        GoalOutcome("kill-10", "applied", True),
        GoalOutcome("kill-daily", "applied", False),
        GoalOutcome("kill-extra", "inactive", False),
    )
    assert (applied.applied, applied.completed_goals) == (2, ("kill-10",))


def test_event_position_is_serialised() -> None:
    assert event_json(Event(None, "u1", "login", position=3)) == {
        "user_id": "u1",
        "kind": "login",
        "position": 3,
    }


def test_skipped_fields_are_the_outcomes_except_applied() -> None:
    names = [field.name for field in dataclasses.fields(SkippedCounts)]
    assert ["applied", *names] == list(get_args(Outcome)) == list(OUTCOMES)


def test_config_result_from_json() -> None:
    result = ConfigResult.from_json(
        {
            "challenges": 1,
            "goals": 2,
            "added": ["a"],
            "updated": ["b"],
            "retired": [],
            "version": 3,
            "digest": "ab",
        }
    )
    assert result == ConfigResult(1, 2, ("a",), ("b",), (), version=3, digest="ab")


def test_set_item_sends_inc_only_when_given() -> None:
    assert SetItem("u1", "level", 7).to_json() == {"user_id": "u1", "goal_id": "level", "value": 7}
    assert SetItem("u1", "level", 7, inc=2).to_json() == {
        "user_id": "u1",
        "goal_id": "level",
        "value": 7,
        "inc": 2,
    }
