"""Client methods return typed values that match the SQL contract (real PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, get_args

import psycopg
import pytest
from pgchallenge import (
    BatchResult,
    Client,
    CompletedGoal,
    ConfigResult,
    GoalProgress,
    IncrementItem,
    Outcome,
    SetItem,
    SkippedCounts,
    Status,
    WriteResult,
)

from tests.serverclock import HOUR, ServerClock

DEFAULT_GOALS = {"kill-3", "level-10", "login-daily", "swim-2"}
TARGETS = {"kill-3": 3, "level-10": 10, "login-daily": 5, "swim-2": 2, "optional-1": 1}


def assert_goal_progress(row: GoalProgress) -> None:
    """Every field has the Python type the dataclass declares."""
    assert isinstance(row, GoalProgress)
    for text in (row.user_id, row.goal_id, row.challenge_id, row.namespace):
        assert isinstance(text, str)
    assert isinstance(row.progress, int)
    assert row.target == TARGETS[row.goal_id]
    assert row.status in get_args(Status)
    assert isinstance(row.is_active, bool)
    assert isinstance(row.updated_at, datetime)
    assert row.updated_at.tzinfo is not None
    for stamp in (row.assigned_at, row.completed_at, row.claimed_at, row.expires_at):
        assert stamp is None or (isinstance(stamp, datetime) and stamp.tzinfo is not None)


def test_load_config_returns_config_result(db: psycopg.Connection[Any], config: dict[str, Any]) -> None:
    result = Client(db).load_config(config)
    assert isinstance(result, ConfigResult)
    assert (result.challenges, result.goals) == (2, 5)
    assert set(result.added) == set(TARGETS)
    assert result.updated == () and result.retired == ()


def test_reload_reports_updated_and_retired(client: Client, config: dict[str, Any]) -> None:
    winter = config["challenges"][0]
    winter["goals"][0]["requirement"]["targetValue"] = 4  # kill-3
    del winter["goals"][3]  # optional-1
    result = client.load_config(config)
    assert result.added == ()
    # Goals after the removed one may be reported too (their catalog position moved); kill-3 must be.
    assert "kill-3" in result.updated and "level-10" not in result.updated
    assert result.retired == ("optional-1",)
    assert result.goals == 4


def test_load_config_accepts_json_text(db: psycopg.Connection[Any], config: dict[str, Any]) -> None:
    import json

    text = json.dumps(config)
    assert Client(db).load_config(text).goals == 5
    assert Client(db).load_config(text.encode()).added == ()


def test_initialize_player_returns_goal_progress_rows(client: Client) -> None:
    rows = client.initialize_player("u1")
    assert {row.goal_id for row in rows} == DEFAULT_GOALS
    for row in rows:
        assert_goal_progress(row)
        assert (row.user_id, row.namespace, row.progress, row.status) == ("u1", "default", 0, "not_started")
        assert row.is_active and row.assigned_at is not None and row.completed_at is None
    assert {row.namespace for row in client.initialize_player("u2", namespace="eu")} == {"eu"}


def test_set_goal_active_returns_the_row(client: Client) -> None:
    row = client.set_goal_active("u1", "optional-1", True)
    assert_goal_progress(row)
    assert (row.goal_id, row.challenge_id, row.is_active) == ("optional-1", "winter", True)
    client.initialize_player("u1")
    client.increment_progress("u1", "kill-3")
    row = client.set_goal_active("u1", "kill-3", False)
    assert (row.is_active, row.progress, row.status) == (False, 1, "in_progress")


def test_increment_progress_returns_write_results(client: Client) -> None:
    client.initialize_player("u1")
    first = client.increment_progress("u1", "kill-3")
    assert first == WriteResult(outcome="applied", progress=1, status="in_progress", newly_completed=False)
    assert first.applied
    assert client.increment_progress("u1", "kill-3", delta=2, event_id="e-1") == WriteResult(
        "applied", 3, "completed", True
    )
    assert client.increment_progress("u1", "kill-3", event_id="e-2").newly_completed is False
    duplicate = client.increment_progress("u1", "kill-3", event_id="e-1")
    assert duplicate.outcome == "duplicate_event" and not duplicate.applied


def test_increment_progress_reports_unknown_goal_with_nulls(client: Client) -> None:
    result = client.increment_progress("u1", "no-such-goal")
    assert result == WriteResult("unknown_goal", None, None, False)
    assert result.outcome in get_args(Outcome)


def test_increment_progress_occurred_at(client: Client, server_clock: ServerClock) -> None:
    client.initialize_player("u1")
    day = server_clock.future_day + 10 * HOUR
    assert client.increment_progress("u1", "login-daily", occurred_at=day).outcome == "applied"
    later = day + timedelta(hours=3)
    assert (
        client.increment_progress("u1", "login-daily", occurred_at=later).outcome == "already_counted_today"
    )
    # Another offset, same UTC day: the offset is sent, not dropped.
    same_day = (day + 8.5 * HOUR).astimezone(timezone(timedelta(hours=5)))  # 23:30+05:00
    assert (
        client.increment_progress("u1", "login-daily", occurred_at=same_day).outcome
        == "already_counted_today"
    )


def test_naive_occurred_at_is_refused_before_sql(client: Client) -> None:
    client.initialize_player("u1")
    naive = datetime(2026, 11, 27, 10, 0)  # invalid-date: no time zone
    with pytest.raises(ValueError, match="timezone-aware"):
        client.increment_progress("u1", "kill-3", occurred_at=naive)
    progress = client.get_progress("u1", "kill-3")
    assert progress is not None and progress.progress == 0


def test_increment_progress_batch_returns_batch_result(client: Client, server_clock: ServerClock) -> None:
    client.initialize_player("u1")
    client.set_goal_active("u1", "swim-2", False)
    at = server_clock.now
    items: list[IncrementItem | dict[str, Any]] = [
        IncrementItem("u1", "kill-3", delta=2, event_id="b-1", occurred_at=at),
        {"user_id": "u1", "goal_id": "kill-3", "event_id": "b-2", "occurred_at": at},
        IncrementItem("u1", "kill-3", event_id="b-1"),
        IncrementItem("u1", "swim-2"),
        IncrementItem("u2", "kill-3"),
        IncrementItem("u1", "gone"),
    ]
    result = client.increment_progress_batch(items)
    assert isinstance(result, BatchResult)
    assert result.applied == 2
    assert result.completed == (CompletedGoal("u1", "kill-3"),)
    assert result.skipped == SkippedCounts(duplicate_event=1, inactive=1, not_assigned=1, unknown_goal=1)
    assert result.total == len(items)


def test_set_progress_batch_returns_batch_result(client: Client) -> None:
    client.initialize_player("u1")
    items: list[SetItem | dict[str, Any]] = [
        SetItem("u1", "level-10", 12),
        {"user_id": "u1", "goal_id": "kill-3", "value": 1},
    ]
    result = client.set_progress_batch(iter(items))
    assert result.applied == 1
    assert result.completed == (CompletedGoal("u1", "level-10"),)
    assert result.skipped.type_mismatch == 1 and result.skipped.total == 1
    row = client.get_progress("u1", "level-10")
    assert row is not None and (row.progress, row.status) == (12, "completed")


def test_empty_batches_are_no_ops(client: Client) -> None:
    assert client.increment_progress_batch([]) == BatchResult(0, (), SkippedCounts())
    assert client.set_progress_batch([]).total == 0


def test_get_progress_maps_no_row_to_none(client: Client) -> None:
    assert client.get_progress("u1", "kill-3") is None
    assert client.get_progress("u1", "no-such-goal") is None
    client.initialize_player("u1")
    row = client.get_progress("u1", "kill-3")
    assert row is not None
    assert_goal_progress(row)


def test_get_user_progress_filters(client: Client) -> None:
    assert client.get_user_progress("u1") == []
    client.initialize_player("u1")
    client.set_goal_active("u1", "level-10", False)
    every = client.get_user_progress("u1")
    assert {row.goal_id for row in every} == DEFAULT_GOALS
    for row in every:
        assert_goal_progress(row)
    active = client.get_user_progress("u1", active_only=True)
    assert {row.goal_id for row in active} == DEFAULT_GOALS - {"level-10"}
    winter = client.get_user_progress("u1", challenge_id="winter")
    assert [row.goal_id for row in winter] == sorted(row.goal_id for row in winter)
    assert {row.challenge_id for row in winter} == {"winter"}
    assert len(winter) == 3


def test_results_are_frozen(client: Client) -> None:
    row = client.initialize_player("u1")[0]
    with pytest.raises(AttributeError):
        row.progress = 5  # type: ignore[misc]
