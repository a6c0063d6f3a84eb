"""record_events by source position (watermarks, fencing) and per-event outcomes (p_detail)."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.events.eventhelpers import init, login, progresses, remembered, stat, table_state

Conn = psycopg.Connection[Any]


def sourced(
    conn: Conn, events: list[dict[str, Any]], *, epoch: int = 1, partition: str = "p0", detail: bool = False
) -> dict[str, Any]:
    row = conn.execute(
        "SELECT challenge.record_events(%s::jsonb, p_detail => %s, p_source => 'game', p_partition => %s,"
        " p_epoch => %s)",
        [Jsonb(events), detail, partition, epoch],
    ).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    return result


def kills(position: int, user_id: str = "u1") -> dict[str, Any]:
    """A kills statistic at a source position, without an event id."""
    event = stat("x", "kills", user_id, inc=1, position=position)
    del event["event_id"]
    return event


def watermark(conn: Conn, partition: str = "p0") -> tuple[int, int] | None:
    row = conn.execute(
        "SELECT position, epoch FROM challenge.source_positions WHERE source = 'game' AND partition = %s",
        [partition],
    ).fetchone()
    return None if row is None else (row[0], row[1])


def test_never_seen_source_applies_every_event_and_sets_the_watermark(events_db: Conn) -> None:
    init(events_db, "u1")
    result = sourced(events_db, [kills(10), kills(11), kills(15)])
    assert (result["events"], result["duplicate_events"], result["position"]) == (3, 0, 15)
    assert progresses(events_db)["kills-inc"] == 3
    assert watermark(events_db) == (15, 1)
    assert remembered(events_db) == 0  # nothing per event


def test_replay_of_a_whole_batch_is_a_duplicate_and_changes_nothing(events_db: Conn) -> None:
    init(events_db, "u1")
    batch = [kills(1), kills(2)]
    sourced(events_db, batch)
    before = table_state(events_db)
    result = sourced(events_db, batch)
    assert (result["events"], result["duplicate_events"], result["applied"]) == (2, 2, 0)
    assert table_state(events_db) == before
    assert watermark(events_db) == (2, 1)


def test_a_batch_straddling_the_watermark_applies_only_the_events_above_it(events_db: Conn) -> None:
    init(events_db, "u1")
    sourced(events_db, [kills(1), kills(2), kills(3)])
    result = sourced(events_db, [kills(2), kills(3), kills(4), kills(9)], detail=True)
    assert (result["duplicate_events"], result["position"]) == (2, 9)
    assert progresses(events_db)["kills-inc"] == 5
    duplicates = [i["index"] for i in result["items"] if i["outcome"] == "duplicate_event"]
    assert duplicates == [0, 1]


def test_gaps_are_normal_and_positions_must_increase(events_db: Conn) -> None:
    init(events_db, "u1")
    assert sourced(events_db, [kills(5), kills(500)])["position"] == 500
    with pytest.raises(psycopg.Error) as error:
        sourced(events_db, [kills(600), kills(600)])
    assert error.value.diag.sqlstate == "CH002"
    assert "item 1: position must be greater than the previous event's (600)" in str(error.value)
    with pytest.raises(psycopg.Error) as error:
        sourced(events_db, [{**kills(700), "position": "701"}])
    assert error.value.diag.sqlstate == "CH002"
    assert watermark(events_db) == (500, 1)


def test_position_is_required_by_source_and_refused_without(events_db: Conn) -> None:
    init(events_db, "u1")
    without = stat("e-1", "kills", "u1")
    with pytest.raises(psycopg.Error) as error:
        sourced(events_db, [without])
    assert "item 0: position must be an integer" in str(error.value)
    with pytest.raises(psycopg.Error) as error:
        events_db.execute("SELECT challenge.record_events(%s::jsonb)", [Jsonb([{**without, "position": 1}])])
    assert "unknown key(s) position" in str(error.value)


def test_an_older_epoch_is_fenced_and_changes_nothing(events_db: Conn) -> None:
    init(events_db, "u1")
    sourced(events_db, [kills(1)], epoch=1)
    row = events_db.execute("SELECT * FROM challenge.acquire_source('game', 'p0')").fetchone()
    assert row == (2, 1)
    before = table_state(events_db)
    with pytest.raises(psycopg.Error) as error:
        sourced(events_db, [kills(2)], epoch=1)
    assert error.value.diag.sqlstate == "CH030"
    assert "held by epoch 2" in str(error.value)
    assert table_state(events_db) == before
    assert sourced(events_db, [kills(2)], epoch=2)["applied"] > 0
    # A higher epoch sent by the caller (a Kafka generation, say) takes the partition over.
    sourced(events_db, [kills(3)], epoch=7)
    assert watermark(events_db) == (3, 7)


def test_acquire_source_on_a_new_partition_starts_at_epoch_one_with_no_position(events_db: Conn) -> None:
    assert events_db.execute("SELECT * FROM challenge.acquire_source('game', 'fresh')").fetchone() == (
        1,
        None,
    )
    with pytest.raises(psycopg.Error) as error:
        events_db.execute("SELECT * FROM challenge.acquire_source('', 'x')")
    assert error.value.diag.sqlstate == "CH003"


def test_partitions_are_independent(events_db: Conn) -> None:
    init(events_db, "u1")
    sourced(events_db, [kills(10)], partition="a")
    assert sourced(events_db, [kills(10)], partition="b")["duplicate_events"] == 0
    assert progresses(events_db)["kills-inc"] == 2


def test_two_consumers_of_one_partition_take_turns(events_db: Conn, connect: Any) -> None:
    init(events_db, "u1")
    first = connect(autocommit=False)
    second = connect()
    sourced(first, [kills(1), kills(2)])  # open transaction holds the watermark row
    results: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: results.append(sourced(second, [kills(2), kills(3)])))
    thread.start()
    thread.join(0.5)
    assert thread.is_alive(), "the second consumer did not wait for the first"
    first.commit()
    thread.join(10)
    assert results[0]["duplicate_events"] == 1
    assert progresses(events_db)["kills-inc"] == 3


def test_detail_gives_each_event_its_outcomes(events_db: Conn) -> None:
    init(events_db, "u1")
    events = [login("e-1"), stat("e-2", "nothing"), login("e-1"), stat("e-3", "level", value=20)]
    result = events_db.execute("SELECT challenge.record_events(%s::jsonb, true)", [Jsonb(events)]).fetchone()[
        0
    ]  # type: ignore[index]
    items = result["items"]
    by_event: dict[int, list[tuple[str | None, str]]] = {}
    for item in items:
        by_event.setdefault(item["index"], []).append((item["goal_id"], item["outcome"]))
    assert sorted(by_event[0]) == [
        ("login-abs", "applied"),
        ("login-daily", "applied"),
        ("login-inc", "applied"),
        ("login-kills", "applied"),
    ]
    assert 1 not in by_event  # reached no goal
    assert by_event[2] == [(None, "duplicate_event")]
    assert dict(by_event[3]) == {"level-abs": "applied", "level-inc": "applied"}
    completed = {i["goal_id"] for i in items if i["completed"]}
    assert completed == {"level-abs"}
    assert [c["goal_id"] for c in result["completed"]] == ["level-abs"]


def test_batch_detail_matches_the_totals(events_db: Conn) -> None:
    init(events_db, "u1")
    items = [
        {"user_id": "u1", "goal_id": "kills-inc", "event_id": "a"},
        {"user_id": "u1", "goal_id": "kills-inc", "event_id": "a"},
        {"user_id": "u1", "goal_id": "no-such-goal"},
        {"user_id": "ghost", "goal_id": "kills-inc"},
    ]
    result = events_db.execute(
        "SELECT challenge.increment_progress_batch(%s::jsonb, true)", [Jsonb(items)]
    ).fetchone()[0]  # type: ignore[index]
    assert [(i["index"], i["outcome"]) for i in result["items"]] == [
        (0, "applied"),
        (1, "duplicate_event"),
        (2, "unknown_goal"),
        (3, "not_assigned"),
    ]
    without = events_db.execute(
        "SELECT challenge.increment_progress_batch(%s::jsonb)", [Jsonb(items[2:])]
    ).fetchone()[0]  # type: ignore[index]
    assert "items" not in without
