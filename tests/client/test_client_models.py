"""Input items serialise to api.md's item objects; result documents parse into dataclasses."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from typing import get_args

import pytest
from pgchallenge import (
    BatchResult,
    CompletedGoal,
    ConfigResult,
    IncrementItem,
    Outcome,
    SetItem,
    SkippedCounts,
)
from pgchallenge.models import OUTCOMES, item_json

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


def test_skipped_fields_are_the_outcomes_except_applied() -> None:
    names = [field.name for field in dataclasses.fields(SkippedCounts)]
    assert ["applied", *names] == list(get_args(Outcome)) == list(OUTCOMES)


def test_config_result_from_json() -> None:
    result = ConfigResult.from_json(
        {"challenges": 1, "goals": 2, "added": ["a"], "updated": ["b"], "retired": []}
    )
    assert result == ConfigResult(1, 2, ("a",), ("b",), ())
